# tsuzuki's image: built by scripts/image.sh from the context it assembles (not for `docker build .`).
# Nothing but the static server, its hash file and the release site: no shell, no package manager.
FROM scratch
COPY root/ /
# Where segments are written, owned by the unprivileged user: mount a tmpfs there (compose.yaml does), or a
# volume. No VOLUME line: every plain `docker run` would leave an anonymous volume behind.
COPY --chown=65532:65532 data/ /data/
USER 65532:65532
ENV LEPTOS_SITE_ROOT=/site \
    LEPTOS_OUTPUT_NAME=tsuzuki \
    LEPTOS_HASH_FILES=true \
    TSUZUKI_ADDR=0.0.0.0:3000 \
    TSUZUKI_DATA_DIR=/data
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 CMD ["/tsuzuki", "healthcheck"]
ENTRYPOINT ["/tsuzuki"]
