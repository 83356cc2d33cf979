import factory

from portal.projects.models import Project, ProjectFile
from portal.projects.starters import STARTERS
from tests.factories import BaseFactory
from tests.factories.accounts import UserFactory


class ProjectFactory(BaseFactory):
    """A project with the Bell-pair starter files (``files__starter="ghz"`` for another)."""

    class Meta:
        model = Project

    user_id = factory.LazyAttribute(lambda p: p.user.id)
    name = factory.Sequence(lambda n: f"Project {n}")
    description = "A test project"

    class Params:
        user = factory.SubFactory(UserFactory)

    @factory.post_generation
    def files(self, create, extracted, **kwargs):
        starter = kwargs.get("starter", "bell")
        contents = extracted if extracted is not None else STARTERS[starter].files
        for path, content in contents.items():
            self.files.append(ProjectFile(path=path, content=content, size=len(content.encode())))
        if create:
            from portal.core.extensions import db

            db.session.flush()


class ProjectFileFactory(BaseFactory):
    class Meta:
        model = ProjectFile

    project = factory.SubFactory(ProjectFactory)
    path = factory.Sequence(lambda n: f"file{n}.qasm")
    content = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\n'
    size = factory.LazyAttribute(lambda f: len(f.content.encode()))
