ALTER TABLE "__kv_store__" ADD COLUMN "updated_at" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "__kv_store__" ADD COLUMN "size" bigint DEFAULT 0 NOT NULL;