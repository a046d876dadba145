import type { EpochSeconds, GrantActivity, GrantFamilyActivity, GrantRecord, RefreshFamilyRecord } from '../../contracts/store.js'

/**
 * A grant and its live refresh families as `listAccountGrants` answers them (connected apps),
 * the one mapping every store uses: each store only reads the records and when a family last
 * rotated. No token hashes leave here. Families are ordered by `familyId` in JavaScript's
 * order, so the stores agree whatever their own sort (a PostgreSQL collation) would say.
 */
export function grantActivity (grant: GrantRecord, families: ReadonlyArray<{ record: RefreshFamilyRecord, rotatedAt: EpochSeconds | undefined }>): GrantActivity {
  const activity = families.map(({ record, rotatedAt }) => familyActivity(record, rotatedAt))
  return { ...grant, families: activity.sort((a, b) => a.familyId < b.familyId ? -1 : 1) }
}

/** One family; `rotatedAt` absent when it never rotated (its start is then its last use). */
function familyActivity (record: RefreshFamilyRecord, rotatedAt: EpochSeconds | undefined): GrantFamilyActivity {
  return {
    familyId: record.familyId,
    scope: record.scope,
    offline: record.offline,
    ...(record.sessionId === undefined ? {} : { sessionId: record.sessionId }),
    ...(record.sid === undefined ? {} : { sid: record.sid }),
    // A copy: the memory store's record must not be reachable from an answer.
    ...(record.resources === undefined ? {} : { resources: [...record.resources] }),
    createdAt: record.createdAt,
    lastUsedAt: rotatedAt ?? record.createdAt,
  }
}
