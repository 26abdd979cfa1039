from django.urls import path

from accounts.views import invitations, keys, members, organizations

org = "o/<slug:slug>/"

urlpatterns = [
    path("", organizations.home, name="home"),
    path("orgs/new/", organizations.org_create, name="org_create"),
    path("invite/<str:token>/", invitations.invitation_accept, name="invitation_accept"),
    path(org + "keys/", keys.key_list, name="keys"),
    path(org + "keys/<int:key_id>/", keys.key_edit, name="key_edit"),
    path(org + "keys/<int:key_id>/revoke/", keys.key_revoke, name="key_revoke"),
    path(org + "keys/<int:key_id>/resume/", keys.key_resume, name="key_resume"),
    path(org + "keys/<int:key_id>/rotate/", keys.key_rotate, name="key_rotate"),
    path(org + "members/", members.member_list, name="members"),
    path(org + "members/<int:membership_id>/role/", members.member_role, name="member_role"),
    path(org + "members/<int:membership_id>/remove/", members.member_remove, name="member_remove"),
    path(
        org + "invitations/<int:invitation_id>/cancel/",
        members.invitation_cancel,
        name="invitation_cancel",
    ),
    path(
        org + "invitations/<int:invitation_id>/resend/",
        members.invitation_resend,
        name="invitation_resend",
    ),
    path(org + "leave/", members.org_leave, name="org_leave"),
    path(org + "settings/", organizations.org_settings, name="org_settings"),
    path(org + "settings/rename/", organizations.org_rename, name="org_rename"),
    path(org + "settings/limits/", organizations.org_limits, name="org_limits"),
    path(org + "settings/alerts/", organizations.org_alerts, name="org_alerts"),
    path(org + "settings/logging/", organizations.org_logging, name="org_logging"),
    path(org + "settings/delete/", organizations.org_delete, name="org_delete"),
]
