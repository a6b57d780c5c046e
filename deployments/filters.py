import django_filters as filters

from common.filters import IdFilter
from deployments.models import Deployment, DeploymentStatus, Endpoint


class EndpointFilterSet(filters.FilterSet):
    model_group = filters.CharFilter(field_name="group__name")
    target = filters.CharFilter()
    auto_deploy = filters.BooleanFilter()

    class Meta:
        model = Endpoint
        fields: list[str] = []


class DeploymentFilterSet(filters.FilterSet):
    endpoint = filters.CharFilter(field_name="endpoint__name")
    model_group = filters.CharFilter(field_name="version__group__name")
    version = IdFilter(field_name="version__version")
    status = filters.MultipleChoiceFilter(choices=DeploymentStatus.choices)
    reason = filters.CharFilter()

    class Meta:
        model = Deployment
        fields: list[str] = []
