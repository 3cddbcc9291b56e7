CREATE TABLE "drizzle_kv_meta" (
	"name" text COLLATE "C" PRIMARY KEY NOT NULL,
	"value" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "drizzle_kv_stores" (
	"name" text COLLATE "C" PRIMARY KEY NOT NULL,
	"version" integer NOT NULL,
	"serializer" text NOT NULL,
	"created_at" bigint NOT NULL
);
