CREATE TABLE `drizzle_kv_counters` (
	`store` text NOT NULL,
	`shard` integer NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`entries` integer DEFAULT 0 NOT NULL,
	`hits` integer DEFAULT 0 NOT NULL,
	`misses` integer DEFAULT 0 NOT NULL,
	`sets` integer DEFAULT 0 NOT NULL,
	`deletes` integer DEFAULT 0 NOT NULL,
	`evictions` integer DEFAULT 0 NOT NULL,
	`expirations` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`store`, `shard`)
);
--> statement-breakpoint
CREATE TABLE `drizzle_kv_tags` (
	`store` text NOT NULL,
	`tag` text NOT NULL,
	`key` text NOT NULL,
	PRIMARY KEY(`store`, `tag`, `key`)
);
--> statement-breakpoint
CREATE INDEX `drizzle_kv_tags_key_idx` ON `drizzle_kv_tags` (`store`,`key`);--> statement-breakpoint
ALTER TABLE `drizzle_kv_stores` ADD `max_bytes` integer;--> statement-breakpoint
ALTER TABLE `drizzle_kv_stores` ADD `max_entries` integer;--> statement-breakpoint
ALTER TABLE `drizzle_kv_stores` ADD `eviction` text;