/** What the consent page says each standard scope shares. */
export const scopeDescriptions: Readonly<Record<string, string>> = {
  openid: 'Sign you in with your account',
  profile: 'Your name and basic profile information',
  email: 'Your email address',
  address: 'Your postal address',
  phone: 'Your phone number',
  offline_access: 'Stay connected when you are not using it',
}
