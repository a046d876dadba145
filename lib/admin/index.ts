export { oidcAdmin, type OidcAdminOptions } from './plugin.js'
