import type { Column } from '../types.js';

export const col = (
  name: string,
  type: Column['type'],
  description: string,
  extra: Pick<Column, 'nullable'> = {},
): Column => ({ name, type, description, ...extra });

export const customerId = col('customer_id', 'bigint', 'Unified customer id (see stage.identity_map).', {
  nullable: false,
});
