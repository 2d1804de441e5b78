"""The secret management service (SMS): secrets, attested key release, enclave keys, audit.

Start it with ``python -m sealrun.services.sms`` (settings from ``SEALRUN_SMS_*``); the API is
documented in ``docs/sms.md`` and at ``/openapi.json``. Build it in-process with
:func:`sealrun.services.sms.app.create_app`.
"""
