-- Demo data: realistic (fictional) clinical trials.
-- Project 1 has several sites and reports; project 4 has sites but no
-- reports yet; project 5 has no sites and no reports; project 6 has reports
-- from a closed study but its sites have been removed.
-- All times are UTC. Loaded by `make run` and the integration tests.

INSERT INTO `project` (`id`, `code`, `title`, `phase`, `status`, `sponsor`, `start_date`, `end_date`, `created_at`, `updated_at`) VALUES
(1, 'CTP-2024-017', 'Semaglutide versus placebo in adults with type 2 diabetes and chronic kidney disease', 'III', 'recruiting', 'Nordhavn Pharma A/S', '2024-03-01', NULL, '2024-01-15 08:30:00', '2024-11-02 14:05:00'),
(2, 'CTP-2023-104', 'Low-dose aspirin for prevention of pre-eclampsia in high-risk pregnancies', 'IV', 'active', 'European Obstetrics Research Network', '2023-06-12', '2026-06-30', '2023-04-03 10:00:00', '2024-09-18 07:45:00'),
(3, 'CTP-2022-009', 'Adjuvant immunotherapy after resection of stage II melanoma', 'II', 'completed', 'Helix Oncology Inc.', '2022-02-01', '2024-05-31', '2021-11-20 16:20:00', '2024-07-01 09:00:00'),
(4, 'CTP-2025-002', 'Remote cardiac monitoring after transcatheter aortic valve implantation', 'II', 'planned', 'Cardiowatch GmbH', '2025-04-01', NULL, '2024-10-01 12:00:00', '2024-10-21 12:00:00'),
(5, 'CTP-2025-011', 'First-in-human dose escalation of an oral KRAS G12C inhibitor', 'I', 'planned', 'Helix Oncology Inc.', NULL, NULL, '2024-11-05 09:15:00', '2024-11-05 09:15:00'),
(6, 'CTP-2021-033', 'Vitamin D supplementation and fracture risk in care-home residents', 'III', 'terminated', 'Public Health Trials Unit', '2021-01-10', '2022-08-15', '2020-10-01 08:00:00', '2022-08-20 11:30:00');

INSERT INTO `institution` (`id`, `code`, `name`, `city`, `country`, `created_at`, `updated_at`) VALUES
(1, 'INST-DK-001', 'Aarhus University Hospital', 'Aarhus', 'DK', '2020-01-01 00:00:00', '2020-01-01 00:00:00'),
(2, 'INST-DE-014', 'Charité – Universitätsmedizin Berlin', 'Berlin', 'DE', '2020-01-01 00:00:00', '2020-01-01 00:00:00'),
(3, 'INST-FR-007', 'Hôpital Européen Georges-Pompidou', 'Paris', 'FR', '2020-01-01 00:00:00', '2020-01-01 00:00:00'),
(4, 'INST-ES-021', 'Hospital Clínic de Barcelona', 'Barcelona', 'ES', '2020-01-01 00:00:00', '2020-01-01 00:00:00'),
(5, 'INST-NL-003', 'Leiden University Medical Center', 'Leiden', 'NL', '2020-01-01 00:00:00', '2020-01-01 00:00:00'),
(6, 'INST-UK-042', 'Royal Marsden Hospital', 'London', 'GB', '2020-01-01 00:00:00', '2020-01-01 00:00:00'),
(7, 'INST-SE-005', 'Karolinska University Hospital', 'Stockholm', 'SE', '2020-01-01 00:00:00', '2020-01-01 00:00:00'),
(8, 'INST-IT-011', 'Policlinico Universitario A. Gemelli', 'Rome', 'IT', '2020-01-01 00:00:00', '2020-01-01 00:00:00'),
(9, 'INST-US-120', 'Massachusetts General Hospital', 'Boston', 'US', '2020-01-01 00:00:00', '2020-01-01 00:00:00');

INSERT INTO `project_institution` (`project_id`, `institution_id`, `role`, `site_status`, `principal_investigator`, `enrolled`, `joined_at`) VALUES
(1, 1, 'lead', 'active', 'Dr. Mette Kjaer', 31, '2024-02-01 09:00:00'),
(1, 2, 'participating', 'active', 'Prof. Jonas Weber', 24, '2024-03-10 09:00:00'),
(1, 4, 'participating', 'active', 'Dra. Lucía Ferrer', 18, '2024-04-02 09:00:00'),
(1, 7, 'participating', 'on_hold', 'Dr. Erik Lindqvist', 0, '2024-06-15 09:00:00'),
(2, 5, 'lead', 'active', 'Dr. Sanne de Vries', 212, '2023-05-01 09:00:00'),
(2, 3, 'participating', 'active', 'Dr. Claire Moreau', 147, '2023-07-20 09:00:00'),
(2, 8, 'participating', 'closed', 'Prof. Marco Rinaldi', 96, '2023-08-01 09:00:00'),
(3, 6, 'lead', 'closed', 'Prof. Alistair Grant', 58, '2022-01-10 09:00:00'),
(3, 9, 'participating', 'closed', 'Dr. Rachel Kim', 41, '2022-03-01 09:00:00'),
(3, 2, 'participating', 'closed', 'Dr. Anna Schulz', 22, '2022-04-11 09:00:00'),
(4, 2, 'lead', 'pending', 'Prof. Jonas Weber', 0, '2024-10-15 09:00:00'),
(4, 7, 'participating', 'pending', 'Dr. Erik Lindqvist', 0, '2024-10-20 09:00:00');

INSERT INTO `project_report` (`project_id`, `title`, `report_type`, `period_start`, `period_end`, `summary`, `created_at`) VALUES
(1, 'Enrolment update Q2 2024', 'progress', '2024-04-01', '2024-06-30', '73 participants randomised across 4 sites; site in Stockholm on hold pending ethics amendment.', '2024-07-05 10:00:00'),
(1, 'DSMB safety review 1', 'safety', '2024-03-01', '2024-08-31', 'No new safety signals. Gastrointestinal adverse events in line with the investigator brochure.', '2024-09-12 15:30:00'),
(1, 'Enrolment update Q3 2024', 'progress', '2024-07-01', '2024-09-30', NULL, '2024-10-04 10:00:00'),
(1, 'Protocol deviation summary', 'deviation', '2024-07-01', '2024-09-30', 'Two visit-window deviations at Barcelona; no impact on primary endpoint.', '2024-10-04 10:00:00'),
(2, 'Interim efficacy analysis', 'interim', '2023-06-12', '2024-06-11', 'Pre-specified interim analysis: continue as planned.', '2024-07-15 08:00:00'),
(2, 'Annual safety report 2024', 'safety', '2023-06-12', '2024-06-11', 'Bleeding events rare and mild.', '2024-08-01 08:00:00'),
(3, 'Final clinical study report', 'final', '2022-02-01', '2024-05-31', 'Primary endpoint (relapse-free survival at 24 months) met.', '2024-06-28 12:00:00'),
(6, 'Termination notice', 'final', '2021-01-10', '2022-08-15', 'Terminated early for futility at the second interim analysis.', '2022-08-20 11:00:00');

-- Enough more to page through (GET /projects, GET /project/7/institutions):
-- projects 7..46, institutions 10..129 in twelve countries; project 7 is a
-- large multi-centre trial with 120 sites and 25 reports, more than one
-- record shows (institutions_next, reports_next); the others have one to
-- three sites. Generated from a table of digits, the same on MySQL and
-- MariaDB.
INSERT INTO `project` (`id`, `code`, `title`, `phase`, `status`, `sponsor`, `start_date`, `end_date`, `created_at`, `updated_at`)
SELECT n + 7,
       CONCAT('CTP-2025-', LPAD(n + 100, 3, '0')),
       CONCAT(ELT(n % 5 + 1, 'Once-weekly', 'Low-dose', 'Adjuvant', 'Home-based', 'Early'), ' ',
              ELT(n % 8 + 1, 'insulin icodec', 'colchicine', 'checkpoint inhibition', 'cardiac rehabilitation',
                  'statin therapy', 'iron supplementation', 'physiotherapy', 'antibiotic stewardship'),
              ' in ', ELT(n % 6 + 1, 'adults with heart failure', 'older adults after hip fracture', 'stage III colon cancer',
                  'chronic obstructive pulmonary disease', 'pregnancy with anaemia', 'type 1 diabetes'),
              ' (demo ', n + 7, ')'),
       ELT(n % 4 + 1, 'I', 'II', 'III', 'IV'),
       ELT(n % 5 + 1, 'planned', 'recruiting', 'active', 'completed', 'suspended'),
       ELT(n % 5 + 1, 'Nordhavn Pharma A/S', 'Helix Oncology Inc.', 'Cardiowatch GmbH', 'Public Health Trials Unit', 'European Obstetrics Research Network'),
       '2025-01-06' + INTERVAL n WEEK,
       NULL,
       '2024-12-02 09:00:00' + INTERVAL n DAY,
       '2025-03-03 09:00:00' + INTERVAL (n * 7) % 40 DAY + INTERVAL n MINUTE
FROM (SELECT t.d * 10 + u.d AS n
      FROM (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) t
      CROSS JOIN (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
                  UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) u) numbers;

INSERT INTO `institution` (`id`, `code`, `name`, `city`, `country`, `created_at`, `updated_at`)
SELECT n + 10,
       CONCAT('INST-', c.country, '-', LPAD(n + 200, 3, '0')),
       CONCAT(c.city, ' Clinical Research Centre ', n + 10),
       c.city, c.country, '2020-01-01 00:00:00', '2020-01-01 00:00:00'
FROM (SELECT h.d * 100 + t.d * 10 + u.d AS n
      FROM (SELECT 0 d UNION ALL SELECT 1) h
      CROSS JOIN (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
                  UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) t
      CROSS JOIN (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
                  UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) u) numbers
JOIN (SELECT 0 k, 'DK' country, 'Odense' city UNION ALL SELECT 1, 'DE', 'Hamburg' UNION ALL SELECT 2, 'FR', 'Lyon'
      UNION ALL SELECT 3, 'ES', 'Madrid' UNION ALL SELECT 4, 'NL', 'Utrecht' UNION ALL SELECT 5, 'GB', 'Leeds'
      UNION ALL SELECT 6, 'SE', 'Uppsala' UNION ALL SELECT 7, 'IT', 'Milan' UNION ALL SELECT 8, 'US', 'Chicago'
      UNION ALL SELECT 9, 'NO', 'Bergen' UNION ALL SELECT 10, 'FI', 'Tampere' UNION ALL SELECT 11, 'PL', 'Krakow') c ON c.k = n % 12
WHERE n < 120;

-- Project 7 takes place at all 120 new institutions; project p (8..46) at
-- one to three of them.
INSERT INTO `project_institution` (`project_id`, `institution_id`, `role`, `site_status`, `principal_investigator`, `enrolled`, `joined_at`)
SELECT 7, `id`, IF(`id` = 10, 'lead', 'participating'), 'active', CONCAT('Dr. Investigator ', `id`), `id` % 37, '2025-02-03 09:00:00' + INTERVAL `id` HOUR
FROM `institution` WHERE `id` BETWEEN 10 AND 129;
INSERT INTO `project_institution` (`project_id`, `institution_id`, `role`, `site_status`, `principal_investigator`, `enrolled`, `joined_at`)
SELECT p.`id`, 10 + (p.`id` * 7 + k.k * 13) % 120, IF(k.k = 0, 'lead', 'participating'), 'active',
       CONCAT('Dr. Investigator ', p.`id`, '-', k.k), (p.`id` + k.k) % 50, '2025-03-03 09:00:00'
FROM `project` p JOIN (SELECT 0 k UNION ALL SELECT 1 UNION ALL SELECT 2) k ON k.k <= p.`id` % 3
WHERE p.`id` BETWEEN 8 AND 46;

INSERT INTO `project_report` (`project_id`, `title`, `report_type`, `period_start`, `period_end`, `summary`, `created_at`)
SELECT 7, CONCAT('Monthly enrolment report ', n + 1), IF(n % 6 = 5, 'safety', 'progress'),
       '2025-02-01' + INTERVAL n MONTH, '2025-02-01' + INTERVAL (n + 1) MONTH - INTERVAL 1 DAY,
       IF(n % 4 = 0, NULL, CONCAT('Enrolment on plan in month ', n + 1, '.')),
       '2025-03-05 10:00:00' + INTERVAL n MONTH
FROM (SELECT t.d * 10 + u.d AS n
      FROM (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2) t
      CROSS JOIN (SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
                  UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) u) numbers
WHERE n < 25;
