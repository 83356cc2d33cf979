"""Development projects and their files."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import Timestamped
from portal.core.extensions import db


class Project(Timestamped, db.Model):
    __tablename__ = "projects"
    __table_args__ = (sa.Index("ix_projects_user_id_updated_at", "user_id", "updated_at"),)

    name: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str | None] = mapped_column(sa.Text)
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    quantum_app_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("quantum_apps.id", ondelete="SET NULL")
    )
    repo: Mapped[str | None] = mapped_column(sa.String(255))

    files: Mapped[list[ProjectFile]] = relationship(
        back_populates="project", cascade="all, delete-orphan", order_by="ProjectFile.path"
    )


class ProjectFile(Timestamped, db.Model):
    """Beyond the seed: a project's source files live in the database (small OpenQASM
    programs and READMEs), so the IDE, the package builder and backups see one copy."""

    __tablename__ = "project_files"
    __table_args__ = (sa.UniqueConstraint("project_id", "path"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(sa.String(255))
    content: Mapped[str] = mapped_column(sa.Text, default="")
    size: Mapped[int] = mapped_column(default=0)

    project: Mapped[Project] = relationship(back_populates="files")
