// drizzle-kit entry for the PostgreSQL per-store format: one store table,
// unqualified, declared under the template name that the runtime replaces with
// each store's real (possibly schema-qualified) name.
import { pgKvTable } from '../../src/pg/schema';
import { STORE_TEMPLATE_NAME } from '../../src/schema/store';

export const store = pgKvTable(STORE_TEMPLATE_NAME);
