/**
 * Every string of the logout pages, in one place (so they can move into a message catalog).
 * `{client}` is replaced by the application's name.
 */
export const logoutPageText = {
  confirmTitle: 'Sign out?',
  confirmLead: 'Do you want to sign out of this provider?',
  confirmLeadForClient: '{client} asks you to sign out.',
  confirmNote: 'You will be signed out of every application that uses this sign-in.',
  confirmButton: 'Sign out',
  stayButton: 'Stay signed in',
  signedOutTitle: 'You are signed out',
  signedOutLead: 'You have been signed out. You can close this window.',
  stayedTitle: 'You are still signed in',
  stayedLead: 'You chose not to sign out.',
} as const

export function withClient (text: string, clientName: string | undefined): string {
  return text.replace('{client}', clientName ?? '')
}
