from django.apps import AppConfig


class SagemakerApiConfig(AppConfig):
    name = "sagemaker_api"
    verbose_name = "SageMaker-compatible API"
    default_auto_field = "django.db.models.BigAutoField"
