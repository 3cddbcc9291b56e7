CREATE TABLE "drizzle_kv_counters" (
	"store" text COLLATE "C" NOT NULL,
	"shard" integer NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"entries" bigint DEFAULT 0 NOT NULL,
	"hits" bigint DEFAULT 0 NOT NULL,
	"misses" bigint DEFAULT 0 NOT NULL,
	"sets" bigint DEFAULT 0 NOT NULL,
	"deletes" bigint DEFAULT 0 NOT NULL,
	"evictions" bigint DEFAULT 0 NOT NULL,
	"expirations" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "drizzle_kv_counters_store_shard_pk" PRIMARY KEY("store","shard")
);
--> statement-breakpoint
ALTER TABLE "drizzle_kv_stores" ADD COLUMN "max_bytes" bigint;--> statement-breakpoint
ALTER TABLE "drizzle_kv_stores" ADD COLUMN "max_entries" bigint;--> statement-breakpoint
ALTER TABLE "drizzle_kv_stores" ADD COLUMN "eviction" text;--> statement-breakpoint
-- The counters' triggers, shared by every store of the schema (the store's name is the
-- trigger's argument). Statement-level with transition tables: one counter update per
-- statement, however many rows it wrote, into the writing connection's own shard.
CREATE FUNCTION "drizzle_kv_count_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "drizzle_kv_counters" AS c ("store", "shard", "bytes", "entries")
		SELECT TG_ARGV[0], pg_backend_pid() % 16, sum("size"), count(*) FROM new_rows HAVING count(*) > 0
		ON CONFLICT ("store", "shard") DO UPDATE SET "bytes" = c."bytes" + excluded."bytes", "entries" = c."entries" + excluded."entries";
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "drizzle_kv_count_update"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "drizzle_kv_counters" AS c ("store", "shard", "bytes")
		SELECT TG_ARGV[0], pg_backend_pid() % 16, d FROM (SELECT (SELECT coalesce(sum("size"), 0) FROM new_rows) - (SELECT coalesce(sum("size"), 0) FROM old_rows) AS d) AS delta WHERE d <> 0
		ON CONFLICT ("store", "shard") DO UPDATE SET "bytes" = c."bytes" + excluded."bytes";
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "drizzle_kv_count_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "drizzle_kv_counters" AS c ("store", "shard", "bytes", "entries")
		SELECT TG_ARGV[0], pg_backend_pid() % 16, -sum("size"), -count(*) FROM old_rows HAVING count(*) > 0
		ON CONFLICT ("store", "shard") DO UPDATE SET "bytes" = c."bytes" + excluded."bytes", "entries" = c."entries" + excluded."entries";
	RETURN NULL;
END $$;
