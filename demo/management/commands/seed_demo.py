"""Demo data: one user per role, two model groups with real tiny models, an approval
policy with gates, and auto-deploying endpoints (one of them serving from the start)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import Role
from approvals.services import policy_update, review_submit
from catalog import services
from catalog.models import ApprovalStatus, ModelGroup
from demo import trainer as demo
from deployments import services as deployments
from deployments.models import Endpoint

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
    help = "Create demo users, model groups, a policy and endpoints; idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        users = {role: self._user(role) for role in Role.values}
        for name, (description, tags, build) in GROUPS.items():
            self._group(users[Role.CONTRIBUTOR], name, description, tags, build)
        self._endpoints_and_approvals(users)
        self.stdout.write("Demo users (username / password):")
        for role in Role.values:
            self.stdout.write(f"  {role:<12} {role} / {self._password(role)}")

    def _group(
        self,
        contributor: Any,
        name: str,
        description: str,
        tags: dict[str, str],
        build: Any,
    ) -> None:
        group = ModelGroup.objects.filter(name=name).first()
        if group is None:
            group = services.group_create(
                actor=contributor, name=name, description=description, tags=tags
            )
        if group.versions.exists():
            return
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

    def _endpoints_and_approvals(self, users: dict[str, Any]) -> None:
        iris = ModelGroup.objects.get(name="iris-classifier")
        cancer = ModelGroup.objects.get(name="breast-cancer-detector")
        for group in (iris, cancer):
            if not Endpoint.objects.filter(name=f"{group.name}-prod").exists():
                deployments.endpoint_create(
                    actor=users[Role.DEPLOYER], name=f"{group.name}-prod", group=group
                )
        if not hasattr(cancer, "approval_policy"):
            policy_update(
                actor=users[Role.ADMIN],
                group=cancer,
                metric_gates=[{"metric": "auc", "op": ">=", "value": 0.95}],
                require_model_card=True,
                require_sample_payload=True,
            )
        first = iris.versions.get(version=1)
        if first.approval_status == ApprovalStatus.PENDING:
            # The worker deploys it as soon as it starts: a live endpoint from minute one.
            review_submit(
                actor=users[Role.REVIEWER],
                version=first,
                decision="approve",
                comment="Baseline model for the demo.",
            )

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
