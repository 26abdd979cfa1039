from django.urls import re_path

from proxy.consumers import ModelsConsumer, NotFoundConsumer

http_urlpatterns = [
    re_path(r"^v1/models/?$", ModelsConsumer.as_asgi()),
    re_path(r"^v1/", NotFoundConsumer.as_asgi()),
]
