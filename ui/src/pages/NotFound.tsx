import { Link } from "../router";

export function NotFound({ what, detail }: { what: string; detail?: string }) {
  return (
    <div class="notfound" data-testid="not-found">
      <h1>404</h1>
      <p>
        This {what} does not exist{detail ? `: ${detail}` : "."}
      </p>
      <Link href="/" class="button">Back to projects</Link>
    </div>
  );
}

export function ErrorBox({ message }: { message: string }) {
  return <div class="error" role="alert">{message}</div>;
}
