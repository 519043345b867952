-- Demo data: a handful of realistic (fictional) clinical trials.
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
