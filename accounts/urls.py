from django.http import HttpResponse
from django.urls import path

urlpatterns = [
    path("", lambda r: HttpResponse("jinf"), name="home"),
    path("invite/<str:token>/", lambda r, token: HttpResponse(""), name="invitation_accept"),
]
