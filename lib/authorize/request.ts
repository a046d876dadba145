/** Moved to lib/interactions/ (issue 14); kept so imports of the old path still work. */
export * from '../interactions/request.js'
