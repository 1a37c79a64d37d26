# One image for every Reflex service; the command picks which: `start api`, `start recorder`, ... (`start` = all).
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tsx (in dependencies) runs the TypeScript directly: no build step, dev dependencies not needed.
RUN npm ci --omit=dev && npm cache clean --force
COPY --chown=node:node . .
RUN chown node:node /app
USER node
EXPOSE 4200
# Equivalent to `npx tsx cli/main.ts`, but node itself is PID 1 so SIGTERM reaches Reflex's drain-and-stop.
ENTRYPOINT ["node", "--import", "tsx", "cli/main.ts"]
CMD ["start"]
