"""A password change, by any path, logs the user out everywhere.

The admin's password form, ``manage.py changepassword``, ``set_unusable_password`` and our own
services all end in ``User.save()`` with a new ``password`` value; comparing it with the stored
one before the save catches every one of them (Django's ``password_changed`` hook misses
``set_unusable_password``). Saves that cannot touch the password (``update_fields`` without it,
e.g. ``last_login`` on every token obtain) cost no query. A hash upgrade on login
(``check_password``'s rehash) changes the stored hash but not the password: it is recognised by
its exact shape (``_password`` unset, ``update_fields=["password"]``) and does not revoke.
"""

from __future__ import annotations

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from accounts.models import User
from accounts.services import user_tokens_revoke

_FLAG = "_nusatrade_password_changed"


@receiver(pre_save, sender=User, dispatch_uid="accounts.password_change_detect")
def _detect_password_change(sender, instance: User, raw: bool = False, update_fields=None,
                            **kwargs) -> None:
    setattr(instance, _FLAG, False)
    if raw or instance.pk is None or (update_fields is not None
                                      and "password" not in update_fields):
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if stored is None or stored == instance.password:
        return
    # Django's rehash on login: set_password, then _password reset to None, then
    # save(update_fields=["password"]). A real change through set_password keeps _password
    # until after the save; set_unusable_password writes an unusable "!..." hash.
    rehash = (instance._password is None and update_fields is not None
              and set(update_fields) == {"password"} and instance.has_usable_password())
    setattr(instance, _FLAG, not rehash)


@receiver(post_save, sender=User, dispatch_uid="accounts.password_change_revoke")
def _revoke_on_password_change(sender, instance: User, created: bool = False, **kwargs) -> None:
    if not created and getattr(instance, _FLAG, False):
        setattr(instance, _FLAG, False)
        user_tokens_revoke(instance)
