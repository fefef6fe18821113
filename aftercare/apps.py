from django.apps import AppConfig


class AftercareConfig(AppConfig):
    name = "aftercare"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_init, post_save

        from aftercare import practice_counts
        from clients.models import Client

        # Any save of a client (services, Settings, Django admin) can change the
        # dashboard's cached counts.
        post_init.connect(practice_counts.client_loaded, sender=Client, dispatch_uid="counts-init")
        post_save.connect(practice_counts.client_saved, sender=Client, dispatch_uid="counts-save")
        post_delete.connect(
            practice_counts.client_deleted, sender=Client, dispatch_uid="counts-delete"
        )
