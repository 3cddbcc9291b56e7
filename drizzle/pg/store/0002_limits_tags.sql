ALTER TABLE "__kv_store__" ADD COLUMN "accessed_at" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "__kv_store__" ADD COLUMN "hits" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "__kv_store__" ADD COLUMN "tags" text[];--> statement-breakpoint
CREATE INDEX "__kv_store___tags_idx" ON "__kv_store__" USING gin ("tags") WHERE "tags" IS NOT NULL;--> statement-breakpoint
-- Backfill: an entry never read since the upgrade was last used when it was last written.
UPDATE "__kv_store__" SET "accessed_at" = "updated_at";
