-- The privileges of the service's database user, and no more: it reads the
-- four tables of a project record, appends to the audit trail, and keeps
-- its own row of the replication heartbeat (used with read replicas). It
-- can neither change nor delete a record or an audit row.
--
-- Create the user with a secret of your own first, e.g.
--   CREATE USER 'projectsvc'@'%' IDENTIFIED BY '<secret>';
-- then run this file as an administrator against the server. The database
-- is `project`; for another name, replace `project`. below (the tests do).
GRANT SELECT ON `project`.`project` TO 'projectsvc'@'%';
GRANT SELECT ON `project`.`institution` TO 'projectsvc'@'%';
GRANT SELECT ON `project`.`project_institution` TO 'projectsvc'@'%';
GRANT SELECT ON `project`.`project_report` TO 'projectsvc'@'%';
GRANT INSERT ON `project`.`access_audit` TO 'projectsvc'@'%';
GRANT INSERT ON `project`.`access_audit_outcome` TO 'projectsvc'@'%';
GRANT SELECT, INSERT, UPDATE ON `project`.`replication_heartbeat` TO 'projectsvc'@'%';
