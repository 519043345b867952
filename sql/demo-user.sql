-- The service's database user of the compose demo (sql/grants.sql gives it
-- its privileges). A demo password: create your own user with your own
-- secret in any other setting.
CREATE USER IF NOT EXISTS 'projectsvc'@'%' IDENTIFIED BY 'projectsvc-demo';
