FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx nest build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# The state directory: the checkpoint mirror and, beside it, the signing key file generated on
# first start (docs/domain.md "Key custody"). Owned by the unprivileged `node` user the service
# runs as; a named volume mounted on it starts with this owner and mode.
ENV AUDIT_CHECKPOINT_DIR=/var/lib/audit-trail/checkpoints \
    AUDIT_SIGNING_KEY_FILE=/var/lib/audit-trail/signing-key
RUN mkdir -p /var/lib/audit-trail/checkpoints \
    && chown -R node:node /var/lib/audit-trail \
    && chmod 0700 /var/lib/audit-trail
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER node
EXPOSE 3000
# Node has fetch: no curl or wget in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
# The command line in the container: node dist/src/cli.js <command> (npm run cli needs the sources).
CMD ["npm", "run", "start:prod"]
