from django.urls import re_path

from proxy import consumers

http_urlpatterns = [
    re_path(r"^v1/chat/completions/?$", consumers.ChatCompletionsConsumer.as_asgi()),
    re_path(r"^v1/completions/?$", consumers.CompletionsConsumer.as_asgi()),
    re_path(r"^v1/embeddings/?$", consumers.EmbeddingsConsumer.as_asgi()),
    re_path(r"^v1/messages/?$", consumers.MessagesConsumer.as_asgi()),
    re_path(r"^v1/messages/count_tokens/?$", consumers.CountTokensConsumer.as_asgi()),
    re_path(r"^v1/responses/?$", consumers.ResponsesConsumer.as_asgi()),
    re_path(r"^v1/models/?$", consumers.ModelsConsumer.as_asgi()),
    re_path(r"^v1/models/(?P<model>.+)$", consumers.ModelsConsumer.as_asgi()),
    re_path(r"^v1/", consumers.NotFoundConsumer.as_asgi()),
]
