from django.contrib import admin
from django.urls import path

from aftercare.forms import AdminLoginForm
from aftercare.views import channels, client, email_links, health, media, pwa, therapist

# The admin's login has the same rate limits as the therapists' (per address, per IP).
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", therapist.home, name="home"),
    # Therapists
    path("login/", therapist.login_view, name="therapist-login"),
    path("logout/", therapist.logout_view, name="therapist-logout"),
    path("t/", therapist.dashboard, name="therapist-dashboard"),
    path("t/clients/new/", therapist.client_add, name="therapist-client-add"),
    path("t/clients/<uuid:public_id>/", therapist.client_detail, name="therapist-client"),
    path("t/clients/<uuid:public_id>/edit/", therapist.client_edit, name="therapist-client-edit"),
    path("t/clients/<uuid:public_id>/session/", therapist.session_assign, name="therapist-session"),
    path("t/clients/<uuid:public_id>/plan/", therapist.plan_edit, name="therapist-plan-edit"),
    path("t/clients/<uuid:public_id>/plan/end/", therapist.plan_end, name="therapist-plan-end"),
    path("t/clients/<uuid:public_id>/phase/", therapist.phase_set, name="therapist-phase"),
    path(
        "t/clients/<uuid:public_id>/alerts/<int:alert_id>/resolve/",
        therapist.alert_resolve,
        name="therapist-alert-resolve",
    ),
    path("t/clients/<uuid:public_id>/seen/", therapist.attention_seen, name="therapist-seen"),
    path("t/clients/<uuid:public_id>/resume/", therapist.plan_resume, name="therapist-resume"),
    path("t/settings/", therapist.settings_page, name="therapist-settings"),
    path("t/clients/<uuid:public_id>/link/send/", therapist.link_send, name="therapist-link-send"),
    path(
        "t/clients/<uuid:public_id>/link/revoke/",
        therapist.link_revoke,
        name="therapist-link-revoke",
    ),
    path(
        "t/clients/<uuid:public_id>/export/",
        therapist.client_export,
        name="therapist-client-export",
    ),
    path(
        "t/clients/<uuid:public_id>/delete/",
        therapist.client_delete,
        name="therapist-client-delete",
    ),
    path("t/exercises/", therapist.exercises, name="therapist-exercises"),
    path("t/exercises/new/", therapist.exercise_edit, name="therapist-exercise-add"),
    path("t/exercises/<int:pk>/", therapist.exercise_edit, name="therapist-exercise-edit"),
    path("t/library/install/", therapist.library_install, name="therapist-library-install"),
    # Clients (phone)
    path("c/login/", client.ClientLoginView.as_view(), name="client-login"),
    # A text message's login link (short: one text is 160 characters).
    path("l/<str:code>", client.ClientShortLoginView.as_view(), name="client-short-login"),
    path("c/", client.today, name="client-today"),
    path("c/plan/", client.whole_plan, name="client-plan"),
    path("c/done/", client.step_done, name="client-step-done"),
    path("c/check-in/", client.checkin, name="client-checkin"),
    path("c/safety/", client.safety_screen, name="client-safety"),
    path("c/progress/", client.progress_page, name="client-progress"),
    path("c/settings/", client.settings_page, name="client-settings"),
    path("c/calendar.ics", client.calendar_feed, name="client-calendar"),
    path("c/new-link/", client.new_link, name="client-new-link"),
    path("c/forget/", client.forget_phone, name="client-forget"),
    path("c/warning-signs/", client.warning_signs, name="client-warning-signs"),
    # How reminders reach the client: the choice, this phone's notifications
    path("c/settings/reminders-by/", channels.reminder_channel, name="client-reminder-channel"),
    path("c/push/subscribe/", channels.push_subscribe, name="client-push-subscribe"),
    path("c/push/unsubscribe/", channels.push_unsubscribe, name="client-push-unsubscribe"),
    path("c/push/test/", channels.push_test, name="client-push-test"),
    # Replies to texts (STOP / START), signed by Twilio
    path("sms/twilio/", channels.sms_webhook, name="sms-webhook"),
    # The installable app: manifest, service worker (root URL, /c/ scope), offline page
    path("c/start/", pwa.start, name="client-start"),
    path("c/offline/", pwa.offline_page, name="client-offline"),
    path("c/manifest.webmanifest", pwa.manifest, name="pwa-manifest"),
    path("sw.js", pwa.service_worker, name="pwa-sw"),
    # Links in emails (signed tokens; opening changes nothing, a POST does)
    path("e/<str:action>/<str:token>/", email_links.email_action, name="email-action"),
    path(
        "e/unsubscribe/<str:kind>/<str:token>/", email_links.unsubscribe, name="email-unsubscribe"
    ),
    # Uploaded exercise videos: practice content, public, with byte ranges (views/media.py)
    path("media/videos/<str:filename>", media.video_file, name="video-file"),
    path("healthz", health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
