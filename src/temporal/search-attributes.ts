import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Custom search attributes ops filter lifecycles by in the Temporal Web UI. */
export const MemberStage = defineSearchAttributeKey('MemberStage', SearchAttributeType.KEYWORD);
export const TenantId = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);
export const GeographyPath = defineSearchAttributeKey('GeographyPath', SearchAttributeType.KEYWORD);
export const MemberId = defineSearchAttributeKey('MemberId', SearchAttributeType.KEYWORD);
export const StageEnteredAt = defineSearchAttributeKey('StageEnteredAt', SearchAttributeType.DATETIME);

export const memberSearchAttributes = [MemberStage, TenantId, GeographyPath, MemberId, StageEnteredAt];
