/**
 * The English catalog: every key the built-in pages use. Other catalogs translate these keys;
 * a missing key falls back to English. `{name}` placeholders are filled by `t(key, { name })`.
 * Keys are grouped by page (`login.*`, `consent.*`, `error.*`, `logout.*` for the logout
 * confirmation and signed-out pages, `scope.*`); a new page adds its own group to each catalog.
 */
export const en = {
  'login.title': 'Sign in',
  'login.subtitle': 'to continue to {client}',
  'login.username': 'Username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.invalid': 'Invalid username or password.',
  'login.locked': 'Too many failed sign-in attempts. Try again in {minutes} minute(s).',
  'consent.title': 'Allow {client}?',
  'consent.intro': '{client} wants to access your account',
  'consent.hostIntro': 'wants to access your account',
  'consent.hostNote': 'This application identified itself by its address at {host}; only that address is verified.',
  'consent.able': 'It will be able to:',
  'consent.signedInOnly': 'Confirm that you are signed in',
  'consent.claims': 'It also asks for: {claims}',
  'consent.redirect': 'You will be sent back to {host}.',
  'consent.about': 'About this app',
  'consent.policy': 'Privacy policy',
  'consent.tos': 'Terms of service',
  'consent.allow': 'Allow',
  'consent.deny': 'Deny',
  'error.title': 'This request cannot be completed',
  'error.serverTitle': 'Something went wrong',
  'error.code': 'Error code: {code}',
  'error.back': 'Go back to the application you came from and try again.',
  'logout.title': 'Sign out?',
  'logout.lead': 'Do you want to sign out of this provider?',
  'logout.leadForClient': '{client} asks you to sign out.',
  'logout.note': 'You will be signed out of every application that uses this sign-in.',
  'logout.confirm': 'Sign out',
  'logout.stay': 'Stay signed in',
  'logout.signedOutTitle': 'You are signed out',
  'logout.signedOutLead': 'You have been signed out. You can close this window.',
  'logout.stayedTitle': 'You are still signed in',
  'logout.stayedLead': 'You chose not to sign out.',
  'scope.openid': 'Sign you in with your account',
  'scope.profile': 'Your name and basic profile information',
  'scope.email': 'Your email address',
  'scope.address': 'Your postal address',
  'scope.phone': 'Your phone number',
  'scope.offline_access': 'Stay connected when you are not using it',
} as const satisfies Record<string, string>

/** A message key of the built-in pages. */
export type MessageKey = keyof typeof en
