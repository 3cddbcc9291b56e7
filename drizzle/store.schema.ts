// drizzle-kit entry for the per-store format: one store table, declared under
// the template name that the runtime replaces with each store's real name.
import { STORE_TEMPLATE_NAME, kvTable } from '../src/schema/store';

export const store = kvTable(STORE_TEMPLATE_NAME);
