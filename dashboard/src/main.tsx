import { render } from 'preact';
import { App } from './app.tsx';
import { interceptLinks } from './router.ts';

interceptLinks();
render(<App />, document.getElementById('app') as HTMLElement);
