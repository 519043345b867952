-- Schema of the clinical project data service.
-- Portable to MySQL 8.x and MariaDB 10.11: InnoDB, utf8mb4, times in UTC
-- (the service's sessions run with time_zone='+00:00').
-- goctl reads this file to generate model/*_gen.go: keep it plain DDL.

CREATE TABLE `project` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `code` varchar(64) NOT NULL COMMENT 'protocol number, e.g. CTP-2024-017',
  `title` varchar(512) NOT NULL,
  `phase` varchar(16) NOT NULL COMMENT 'I, II, III, IV, I/II, ...',
  `status` varchar(32) NOT NULL COMMENT 'planned, recruiting, active, completed, suspended, terminated',
  `sponsor` varchar(255) NOT NULL,
  `start_date` date NULL DEFAULT NULL,
  `end_date` date NULL DEFAULT NULL,
  `created_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_project_code` (`code`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='clinical trial project';

CREATE TABLE `institution` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `code` varchar(64) NOT NULL,
  `name` varchar(255) NOT NULL,
  `city` varchar(128) NOT NULL DEFAULT '',
  `country` varchar(64) NOT NULL DEFAULT '',
  `created_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_institution_code` (`code`),
  KEY `idx_institution_name` (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='research site';

CREATE TABLE `project_institution` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `project_id` bigint unsigned NOT NULL,
  `institution_id` bigint unsigned NOT NULL,
  `role` varchar(32) NOT NULL DEFAULT 'participating' COMMENT 'lead or participating',
  `site_status` varchar(32) NOT NULL DEFAULT 'active',
  `principal_investigator` varchar(255) NOT NULL DEFAULT '',
  `enrolled` int NOT NULL DEFAULT 0,
  `joined_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_project_institution` (`project_id`, `institution_id`),
  KEY `idx_project_institution_institution` (`institution_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='site taking part in a project';

-- idx_project_report_latest serves "latest N reports of a project" as an
-- index range read backwards (created_at DESC, id DESC) with no filesort.
-- It is declared ascending because both MySQL 8 and MariaDB 10.11 scan it
-- backwards, and older parsers (goctl's among them) accept it.
CREATE TABLE `project_report` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `project_id` bigint unsigned NOT NULL,
  `title` varchar(512) NOT NULL,
  `report_type` varchar(32) NOT NULL COMMENT 'safety, progress, interim, final, ...',
  `period_start` date NULL DEFAULT NULL,
  `period_end` date NULL DEFAULT NULL,
  `summary` text NULL,
  `created_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`id`),
  KEY `idx_project_report_latest` (`project_id`, `created_at`, `id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='project report';

-- The access audit trail: one row per request to /project/{id} that carried
-- a valid token, whatever its answer (200, 304, 404 for a project that does
-- not exist or is outside the caller's grant, 400, 403, 503, 504). No record
-- leaves the service unless its row is committed. Rows are only ever
-- inserted: the service's database user has INSERT, not UPDATE or DELETE,
-- on this table (sql/grants.sql). The indexes serve the auditor's two
-- questions: who read project X, and what did subject S read.
CREATE TABLE `access_audit` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `occurred_at` datetime(6) NOT NULL COMMENT 'UTC, when the answer was decided',
  `subject` varchar(255) NOT NULL COMMENT 'sub claim of the token',
  `client_id` varchar(255) NOT NULL DEFAULT '' COMMENT 'azp claim of the token, else its client_id',
  `project_id` bigint unsigned NULL DEFAULT NULL COMMENT 'the project asked for; NULL when the id in the path is not a valid one',
  `method` varchar(8) NOT NULL COMMENT 'GET or HEAD',
  `status` smallint unsigned NOT NULL COMMENT 'the HTTP status answered',
  `granted_by` varchar(32) NOT NULL DEFAULT '' COMMENT 'the scope that allowed the read: project:read:all or project:read; empty when none did',
  `trace_id` varchar(32) NOT NULL DEFAULT '' COMMENT 'trace id of the request, as in the service log',
  PRIMARY KEY (`id`),
  KEY `idx_access_audit_project` (`project_id`, `occurred_at`),
  KEY `idx_access_audit_subject` (`subject`, `occurred_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='who read which project record, and what they were answered';

-- Replication heartbeats: with read replicas configured, each service
-- process writes its own clock here on the primary every second, and reads
-- it back from each replica; the difference is how far the replica's data
-- is behind (its lag), measured the same way on MySQL and MariaDB, with no
-- replication privileges and no clock comparison between servers. One row
-- per service process.
CREATE TABLE `replication_heartbeat` (
  `instance_id` bigint unsigned NOT NULL COMMENT 'the service process that writes the row',
  `beat_at` datetime(6) NOT NULL COMMENT 'that process clock (UTC) at the write',
  PRIMARY KEY (`instance_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='how far each replica is behind the primary';
