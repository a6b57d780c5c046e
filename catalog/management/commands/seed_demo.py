"""Demo data: one user per role and two model groups with real tiny models."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import Role
from catalog import demo, services
from catalog.models import ModelGroup

GROUPS = {
    "iris-classifier": (
        "Classifies iris flowers from sepal and petal sizes.",
        {"team": "demo", "domain": "botany"},
        demo.iris_models,
    ),
    "breast-cancer-detector": (
        "Flags malignant tumours from cell nucleus features.",
        {"team": "demo", "domain": "health"},
        demo.breast_cancer_models,
    ),
}


class Command(BaseCommand):
    help = "Create demo users (one per role) and model groups with real models; idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        users = {role: self._user(role) for role in Role.values}
        contributor = users[Role.CONTRIBUTOR]
        for name, (description, tags, build) in GROUPS.items():
            group = ModelGroup.objects.filter(name=name).first()
            if group is None:
                group = services.group_create(
                    actor=contributor, name=name, description=description, tags=tags
                )
            if group.versions.exists():
                continue
            for model in build():
                services.version_register(
                    actor=contributor,
                    group=group,
                    artifact=ContentFile(model.content, name=model.filename),
                    description=model.description,
                    metrics=model.metrics,
                    hyperparameters=model.hyperparameters,
                    sample_payload=model.sample_payload,
                    input_schema=model.input_schema,
                    lineage=model.lineage,
                    tags=model.tags,
                    model_card=f"# {name}\n\n{model.description}\n",
                )
        self.stdout.write("Demo users (username / password):")
        for role in Role.values:
            self.stdout.write(f"  {role:<12} {role} / {self._password(role)}")

    @staticmethod
    def _password(role: str) -> str:
        return f"{role}-demo-pass"

    @transaction.atomic
    def _user(self, role: str) -> Any:
        user, _ = get_user_model().objects.get_or_create(
            username=role, defaults={"email": f"{role}@example.com"}
        )
        user.set_password(self._password(role))
        if role == Role.ADMIN:
            user.is_staff = user.is_superuser = True
        user.save()
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user
