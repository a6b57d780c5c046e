"""The demo: tiny real models and ``manage.py seed_demo``, which ``make run`` uses."""
