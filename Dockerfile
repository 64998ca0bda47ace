# Build wheels in one stage, run as an unprivileged user in a slim second stage.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY feedback_bot ./feedback_bot
COPY adapters ./adapters
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c constraints.txt ".[telegram,matrix,postgres]"

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 feedback
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
WORKDIR /app
COPY config ./config
RUN mkdir -p /app/data && chown feedback:feedback /app/data
USER feedback
ENV FEEDBACK_BOT_PROMPTS_FILE=/app/config/prompts.yaml \
    FEEDBACK_BOT_HTTP_HOST=0.0.0.0 \
    FEEDBACK_BOT_HTTP_PORT=8080 \
    FEEDBACK_BOT_MATRIX__STORE_PATH=/app/data/matrix-store
VOLUME ["/app/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz').status == 200 else 1)"
ENTRYPOINT ["feedback-bot"]
CMD ["run"]
