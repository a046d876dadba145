import Type, { type Static, type TSchema, type TUnsafe } from 'typebox'
import Value from 'typebox/value'
import type { OptionProblem } from './errors.js'

/*
 * How a plugin's options are checked against its one schema (the provider's and the resource
 * server's alike): unknown names first, on the host's object as given; then the plain-data part,
 * copied, defaulted and validated by TypeBox. Entries marked `ByReference` (adapters, functions,
 * host objects) are named by the schema but left to code, and passed through untouched.
 */

/** The JSON Schema keyword that marks an entry as checked in code and passed by reference. */
const byReferenceKeyword = 'x-by-reference'

/**
 * An option the schema names but does not validate: an adapter, a function or a host object,
 * checked in code and passed through by reference (never copied). `members`, when given,
 * describes what it may hold, so that a misspelt member is refused by name like any other option;
 * their values are still left to code.
 *
 * @example
 * cors: Type.Optional(ByReference<CorsOptions>('CORS policy.', Type.Object({
 *   allowOrigin: Type.Optional(ByReference<CorsOptions['allowOrigin']>('(origin, context) => boolean')),
 * }, { additionalProperties: false })))
 */
export function ByReference<T> (description: string, members?: TSchema): TUnsafe<T> {
  // The members' JSON Schema keywords (type, properties, anyOf, ...) are what the name check walks.
  return Type.Unsafe<T>({ ...members, description, [byReferenceKeyword]: true })
}

/**
 * The JSON Schema keyword holding a sentence that says what an option must be, used instead of
 * TypeBox's own words ("must not have fewer than 32 characters") for any error at or below it.
 */
export const optionMessageKeyword = 'x-option-message'

/** Whether a schema entry is left to code (see `ByReference`). */
export function isByReference (schema: TSchema | undefined): boolean {
  return (schema as Record<string, unknown> | undefined)?.[byReferenceKeyword] === true
}

/**
 * Fastify's own `register` options, which its types allow on every plugin. A plugin wrapped with
 * fastify-plugin is not encapsulated, so Fastify applies none of them; the provider reads
 * `prefix` itself. Known here so that code Fastify's types accept does not fail `register`.
 */
export const fastifyRegisterOptions = {
  prefix: Type.Optional(ByReference<string>('Fastify\'s route prefix (read by the plugin itself where it registers routes).')),
  logLevel: Type.Optional(ByReference<string>('Fastify\'s register option; no effect on a plugin wrapped with fastify-plugin.')),
  logSerializers: Type.Optional(ByReference<Record<string, (value: unknown) => unknown>>('Fastify\'s register option; no effect on a plugin wrapped with fastify-plugin.')),
}

/**
 * Checks `options` against `schema` and returns its plain-data part with the schema's defaults:
 * 1. an unknown name, at any depth, is refused with its path and the nearest known name, before
 *    anything is copied (a function-valued misspelling never reaches a copy);
 * 2. the data part is copied (by-reference entries left out; a function where data belongs is
 *    refused with its path), so defaults never write into the host's objects;
 * 3. TypeBox fills the defaults and the first error is refused with its path.
 * `refuse` makes the plugin's own error from the problem.
 */
export function validateOptions<S extends TSchema> (schema: S, options: unknown, refuse: (problem: OptionProblem) => Error): Static<S> {
  if (!isRecord(options)) throw refuse({ path: 'options', message: 'must be an object' })
  const unknown = unknownOption(schema, options, '')
  if (unknown !== undefined) throw refuse(unknown)
  const data = copyData(schema, options, '', [], refuse)
  const withDefaults = Value.Default(schema, data)
  const problem = schemaProblem(schema, withDefaults)
  if (problem !== undefined) throw refuse(problem)
  return withDefaults as Static<S>
}

/** A JSON Schema as this module reads it: the keywords TypeBox emits for objects, arrays, unions. */
interface SchemaKeywords {
  type?: string
  properties?: Record<string, TSchema>
  patternProperties?: Record<string, TSchema>
  additionalProperties?: boolean | TSchema
  items?: TSchema
  anyOf?: TSchema[]
}

const keywords = (schema: TSchema | undefined): SchemaKeywords => (schema ?? {}) as SchemaKeywords

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** An object literal (or a null-prototype one): a host's class instance keeps its own fields to itself. */
function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (!isRecord(value)) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

const memberPath = (path: string, name: string): string => path === '' ? name : `${path}.${name}`

/** The schemas among `schema` and its union members that describe values shaped like `value`. */
function shapesOf (schema: TSchema | undefined, value: unknown): SchemaKeywords[] {
  const described = keywords(schema)
  if (described.anyOf !== undefined) return described.anyOf.flatMap((member) => shapesOf(member, value))
  const shape = Array.isArray(value) ? 'array' : isRecord(value) ? 'object' : undefined
  return shape !== undefined && described.type === shape ? [described] : []
}

/** The schema of member `name` in an object schema: a declared property, else a pattern or additional schema. */
function memberSchema (object: SchemaKeywords, name: string): TSchema | undefined {
  if (object.properties !== undefined && Object.hasOwn(object.properties, name)) return object.properties[name]
  for (const [pattern, schema] of Object.entries(object.patternProperties ?? {})) {
    if (new RegExp(pattern, 'u').test(name)) return schema
  }
  return typeof object.additionalProperties === 'object' ? object.additionalProperties : undefined
}

/**
 * The first name in `value` that `schema` does not know, depth first in the host's key order.
 * Only plain objects and arrays are entered: adapters are the host's objects.
 */
function unknownOption (schema: TSchema | undefined, value: unknown, path: string): OptionProblem | undefined {
  if (!isPlainObject(value) && !Array.isArray(value)) return undefined
  let first: OptionProblem | undefined
  // A union: the value is fine if one member of its shape knows every name in it.
  for (const shape of shapesOf(schema, value)) {
    const problem = Array.isArray(value) ? unknownItem(shape, value, path) : unknownMember(shape, value, path)
    if (problem === undefined) return undefined
    first ??= problem
  }
  return first
}

function unknownItem (array: SchemaKeywords, value: unknown[], path: string): OptionProblem | undefined {
  for (const [index, item] of value.entries()) {
    const problem = unknownOption(array.items, item, `${path}[${index}]`)
    if (problem !== undefined) return problem
  }
  return undefined
}

function unknownMember (object: SchemaKeywords, value: Record<string, unknown>, path: string): OptionProblem | undefined {
  for (const [name, member] of Object.entries(value)) {
    const schema = memberSchema(object, name)
    if (schema === undefined) {
      if (object.additionalProperties !== false) continue
      const suggestion = nearestName(name, Object.keys(object.properties ?? {}))
      return { path: memberPath(path, name), unknown: true, suggestion: suggestion === undefined ? undefined : memberPath(path, suggestion) }
    }
    const problem = unknownOption(schema, member, memberPath(path, name))
    if (problem !== undefined) return problem
  }
  return undefined
}

/**
 * A known name close to `name` (a typo, another case), when there is one: the smallest edit
 * distance, compared case-insensitively, within a third of the name's length.
 */
export function nearestName (name: string, known: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(name.length / 3))
  let best: string | undefined
  let bestDistance = limit + 1
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance (a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let distance = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, rows[i - 2]![j - 2]! + 1)
      rows[i]![j] = distance
    }
  }
  return rows[a.length]![b.length]!
}

/**
 * A deep copy of the plain-data part of `value`: members whose schema is `ByReference` are left
 * out; a function or symbol where data belongs is refused with its path (rather than failing a
 * clone). Every object and array is new, so TypeBox's defaults never write into the host's.
 */
function copyData (schema: TSchema | undefined, value: unknown, path: string, ancestors: object[], refuse: (problem: OptionProblem) => Error): unknown {
  if (typeof value === 'function' || typeof value === 'symbol') {
    const expected = schema === undefined ? undefined : schemaProblem(schema, value)?.message
    throw refuse({ path, message: expected ?? 'must be plain data' })
  }
  if (typeof value !== 'object' || value === null) return value
  if (ancestors.includes(value)) throw refuse({ path, message: 'must be plain data (it contains itself)' })
  const inside = [...ancestors, value]
  const shapes = shapesOf(schema, value)
  if (Array.isArray(value)) {
    return value.map((item, index) => copyData(shapes[0]?.items, item, `${path}[${index}]`, inside, refuse))
  }
  const copy: Record<string, unknown> = {}
  for (const [name, member] of Object.entries(value)) {
    const described = shapes.map((shape) => memberSchema(shape, name)).find((found) => found !== undefined)
    if (isByReference(described)) continue
    copy[name] = copyData(described, member, memberPath(path, name), inside, refuse)
  }
  return copy
}

/** TypeBox's JSON pointer (`/clients/0/redirect_uris`) as an option path (`clients[0].redirect_uris`). */
function optionPath (pointer: string): string {
  return pointer.split('/').slice(1).map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce((path, token) => /^\d+$/.test(token) && path !== '' ? `${path}[${token}]` : memberPath(path, token), '')
}

/**
 * The first TypeBox error of `value`, worded with the option's path. Union bookkeeping (`anyOf`,
 * a `false` schema) is skipped for the error that says what the value must be; the deepest such
 * error wins, so `{ maxBytes: 10 }` is refused for `maxBytes`, not for not being a boolean.
 */
export function schemaProblem (schema: TSchema, value: unknown): { path: string, message: string } | undefined {
  const errors = Value.Errors(schema, value)
  const telling = errors.filter((error) => error.keyword !== 'anyOf' && error.keyword !== 'boolean')
  const first = telling.reduce<typeof errors[number] | undefined>((deepest, error) =>
    deepest === undefined || depth(error.instancePath) > depth(deepest.instancePath) ? error : deepest, undefined) ?? errors[0]
  if (first === undefined) return undefined
  const path = optionPath(first.instancePath)
  if (first.keyword === 'required') {
    const missing = (first.params as { requiredProperties?: string[] }).requiredProperties?.[0]
    if (missing !== undefined) return { path: memberPath(path, missing), message: 'is required' }
  }
  return { path: path === '' ? 'options' : path, message: explainedMessage(schema, first.schemaPath) ?? first.message }
}

/** The `x-option-message` of the schema at `schemaPath` (`#/properties/a/anyOf/1`) or of its nearest ancestor that has one. */
function explainedMessage (schema: TSchema, schemaPath: string): string | undefined {
  let node: unknown = schema
  let message: string | undefined
  for (const token of schemaPath.split('/').slice(1)) {
    const found = (node as Record<string, unknown> | undefined)?.[token.replaceAll('~1', '/').replaceAll('~0', '~')]
    if (typeof found !== 'object' || found === null) break
    node = found
    const own = (node as Record<string, unknown>)[optionMessageKeyword]
    if (typeof own === 'string') message = own
  }
  const root = (schema as Record<string, unknown>)[optionMessageKeyword]
  return message ?? (typeof root === 'string' ? root : undefined)
}

const depth = (pointer: string): number => pointer === '' ? 0 : pointer.split('/').length
