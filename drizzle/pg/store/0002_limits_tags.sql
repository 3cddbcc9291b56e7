ALTER TABLE "__kv_store__" ADD COLUMN "accessed_at" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "__kv_store__" ADD COLUMN "hits" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "__kv_store__" ADD COLUMN "tags" text[];--> statement-breakpoint
CREATE INDEX "__kv_store___tags_idx" ON "__kv_store__" USING gin ("tags") WHERE "tags" IS NOT NULL;--> statement-breakpoint
-- Backfill: an entry never read since the upgrade was last used when it was last written.
UPDATE "__kv_store__" SET "accessed_at" = "updated_at";
--> statement-breakpoint
-- The store's counters start from what its table holds (a recreated store starts afresh).
DELETE FROM "drizzle_kv_counters" WHERE "store" = '__kv_store__';
--> statement-breakpoint
INSERT INTO "drizzle_kv_counters" ("store", "shard", "bytes", "entries")
	SELECT '__kv_store__', 0, coalesce(sum("size"), 0), count(*) FROM "__kv_store__";
--> statement-breakpoint
CREATE TRIGGER "__kv_store___count_insert" AFTER INSERT ON "__kv_store__" REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION "drizzle_kv_count_insert"('__kv_store__');
--> statement-breakpoint
CREATE TRIGGER "__kv_store___count_update" AFTER UPDATE ON "__kv_store__" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION "drizzle_kv_count_update"('__kv_store__');
--> statement-breakpoint
CREATE TRIGGER "__kv_store___count_delete" AFTER DELETE ON "__kv_store__" REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION "drizzle_kv_count_delete"('__kv_store__');
