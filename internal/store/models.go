package store

import (
	"github.com/zeromicro/go-zero/core/stores/sqlx"

	"github.com/clinicaldata/projectsvc/model"
)

// Models are the goctl models over one database server's connection: the
// primary's, or a replica's. A new model is declared here once — a field
// and its line in newModels — and every server has it.
type Models struct {
	Project              model.ProjectModel
	Institution          model.InstitutionModel
	ProjectInstitution   model.ProjectInstitutionModel
	ProjectReport        model.ProjectReportModel
	AccessAudit          model.AccessAuditModel
	AccessAuditOutcome   model.AccessAuditOutcomeModel
	ReplicationHeartbeat model.ReplicationHeartbeatModel
}

func newModels(conn sqlx.SqlConn) Models {
	return Models{
		Project:              model.NewProjectModel(conn),
		Institution:          model.NewInstitutionModel(conn),
		ProjectInstitution:   model.NewProjectInstitutionModel(conn),
		ProjectReport:        model.NewProjectReportModel(conn),
		AccessAudit:          model.NewAccessAuditModel(conn),
		AccessAuditOutcome:   model.NewAccessAuditOutcomeModel(conn),
		ReplicationHeartbeat: model.NewReplicationHeartbeatModel(conn),
	}
}
