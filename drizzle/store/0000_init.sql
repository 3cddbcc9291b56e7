CREATE TABLE `__kv_store__` (
	`key` text PRIMARY KEY NOT NULL,
	`value` blob NOT NULL,
	`expires_at` integer
);
--> statement-breakpoint
CREATE INDEX `__kv_store___expires_at_idx` ON `__kv_store__` (`expires_at`) WHERE "expires_at" IS NOT NULL;