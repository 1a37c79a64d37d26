export function NotFoundPage() {
  return (
    <>
      <h1>Not found</h1>
      <p>
        Nothing lives at this address. <a href="/">Go to the overview</a>.
      </p>
    </>
  );
}
