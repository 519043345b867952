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
  UNIQUE KEY `uk_project_code` (`code`),
  KEY `idx_project_status` (`status`, `id`),
  KEY `idx_project_phase` (`phase`, `id`),
  KEY `idx_project_sponsor` (`sponsor`, `id`),
  KEY `idx_project_updated` (`updated_at`, `id`)
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

-- The catalogue (GET /projects) pages by id, or by (updated_at, id) with
-- updated_since; each of its filters is served by an index whose leading
-- column is the filter and whose next is the order, so a page reads about
-- `limit` index entries, never the table: project (status|phase|sponsor,
-- id) and (updated_at, id) above; project_institution (institution_id,
-- project_id) and (country, project_id) below. project_institution.country
-- is the site's country, copied from institution by the triggers at the end
-- of this file (a join through institution could not be read in
-- project_id order).
CREATE TABLE `project_institution` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `project_id` bigint unsigned NOT NULL,
  `institution_id` bigint unsigned NOT NULL,
  `role` varchar(32) NOT NULL DEFAULT 'participating' COMMENT 'lead or participating',
  `site_status` varchar(32) NOT NULL DEFAULT 'active',
  `principal_investigator` varchar(255) NOT NULL DEFAULT '',
  `enrolled` int NOT NULL DEFAULT 0,
  `joined_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `country` varchar(64) NOT NULL DEFAULT '' COMMENT 'the country of the institution, kept equal to institution.country by triggers',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_project_institution` (`project_id`, `institution_id`),
  KEY `idx_project_institution_institution` (`institution_id`, `project_id`),
  KEY `idx_project_institution_country` (`country`, `project_id`)
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

-- The access audit trail: what left the service, and to whom. Every answer
-- to a caller with a valid token leaves rows here before it is sent: one
-- row per project the answer disclosed or asked for (a page of the
-- catalogue: one per project on it; a 400 or 403: one row with no project).
-- The logic that builds an answer declares what it discloses, and the rows
-- are written from that declaration, never re-derived from the URL. A
-- record's rows are written while its reads run, announcing the answer
-- about to be sent (status); when the answer turns out otherwise (a 404, a
-- 5xx, a 504), access_audit_outcome receives the status the client did get
-- before it leaves. Rows are only ever inserted: the service's database
-- user has INSERT, not UPDATE or DELETE, on both tables (sql/grants.sql).
-- The indexes serve the auditor's questions (docs/access.md): who read
-- project X between T1 and T2, what did subject S read, and which requests
-- were refused (no grant: granted_by is empty).
CREATE TABLE `access_audit` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `request_id` char(32) NOT NULL COMMENT 'the id the service generated for the request (X-Request-Id, the request_id of its log lines)',
  `occurred_at` datetime(6) NOT NULL COMMENT 'UTC, when the disclosure was decided',
  `subject` varchar(255) NOT NULL COMMENT 'sub claim of the token',
  `client_id` varchar(255) NOT NULL DEFAULT '' COMMENT 'the client the token was issued to: azp, client_id, cid or appid',
  `project_id` bigint unsigned NULL DEFAULT NULL COMMENT 'the project disclosed or asked for; NULL when the answer names none (400, 403)',
  `method` varchar(8) NOT NULL COMMENT 'GET or HEAD',
  `route` varchar(64) NOT NULL DEFAULT '' COMMENT 'the route template, e.g. /project/:id',
  `status` smallint unsigned NOT NULL COMMENT 'the HTTP status of the answer, unless access_audit_outcome has another for the request',
  `granted_by` varchar(32) NOT NULL DEFAULT '' COMMENT 'the scope that allowed the read: project:read:all or project:read; empty when none did',
  `trace_id` varchar(32) NOT NULL DEFAULT '' COMMENT 'trace id of the request, as in the service log',
  PRIMARY KEY (`id`),
  KEY `idx_access_audit_project` (`project_id`, `occurred_at`),
  KEY `idx_access_audit_subject` (`subject`, `occurred_at`),
  KEY `idx_access_audit_grant` (`granted_by`, `occurred_at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='what each answer disclosed, to whom';

-- The status a client received when it is not the one its access_audit
-- rows announced (the record turned out missing, a read failed, the
-- deadline passed): at most one row per request, written before that
-- answer leaves.
CREATE TABLE `access_audit_outcome` (
  `request_id` char(32) NOT NULL COMMENT 'access_audit.request_id',
  `occurred_at` datetime(6) NOT NULL COMMENT 'UTC, when the answer was decided',
  `status` smallint unsigned NOT NULL COMMENT 'the HTTP status the client received',
  PRIMARY KEY (`request_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='the answer a request received, when not the announced one';

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

-- project_institution.country follows institution.country, whoever writes
-- the data: a site takes its institution's country when it is added (or
-- moved to another institution), and every site of an institution follows
-- when the institution's country changes. One statement each (no
-- DELIMITER needed), the same on MySQL 8 and MariaDB.
CREATE TRIGGER `project_institution_country_on_insert` BEFORE INSERT ON `project_institution`
  FOR EACH ROW SET NEW.`country` = COALESCE((SELECT `country` FROM `institution` WHERE `id` = NEW.`institution_id`), '');
CREATE TRIGGER `project_institution_country_on_update` BEFORE UPDATE ON `project_institution`
  FOR EACH ROW SET NEW.`country` = COALESCE((SELECT `country` FROM `institution` WHERE `id` = NEW.`institution_id`), '');
CREATE TRIGGER `institution_country_to_sites` AFTER UPDATE ON `institution`
  FOR EACH ROW UPDATE `project_institution` SET `country` = NEW.`country` WHERE `institution_id` = NEW.`id` AND `country` <> NEW.`country`;
