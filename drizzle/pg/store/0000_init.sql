CREATE TABLE "__kv_store__" (
	"key" text COLLATE "C" PRIMARY KEY NOT NULL,
	"value" "bytea" NOT NULL,
	"expires_at" bigint
);
--> statement-breakpoint
CREATE INDEX "__kv_store___expires_at_idx" ON "__kv_store__" USING btree ("expires_at") WHERE "expires_at" IS NOT NULL;