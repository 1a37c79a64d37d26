# One image for every Reflex service; the command picks which: `start api`, `start recorder`, ... (`start` = all).
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tsx (in dependencies) runs the TypeScript directly: no build step, dev dependencies not needed.
RUN npm ci --omit=dev && npm cache clean --force
COPY --chown=node:node . .
# The dashboard bundle (dashboard/dist, never committed): built here so containers start without building.
RUN npm run build:dashboard && chown -R node:node /app/dashboard/dist
RUN chown node:node /app
USER node
EXPOSE 4200
# Equivalent to `npx tsx cli/main.ts`, but node itself is PID 1 so SIGTERM reaches Reflex's drain-and-stop.
ENTRYPOINT ["node", "--import", "tsx", "cli/main.ts"]
CMD ["start"]
