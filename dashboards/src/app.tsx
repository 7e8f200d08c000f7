import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, can, login, logout, type Me, restore, setUnauthenticatedHandler } from './api.ts';
import { I18nContext, initialLang, type Lang, makeI18n, useI18n } from './i18n.ts';
import { AlarmBoard } from './pages/alarms.tsx';
import { DevicesPage } from './pages/devices.tsx';
import { ElevatorsPage } from './pages/elevators.tsx';
import { GridPage } from './pages/grid.tsx';
import { IntegrationsPage } from './pages/integrations.tsx';
import { TicketsPage } from './pages/tickets.tsx';
import { go, useRoute } from './route.ts';

export function App() {
  const [lang, setLang] = useState<Lang>(initialLang);
  const i18n = useMemo(() => makeI18n(lang), [lang]);
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  // Set at once (not in an effect): screen readers and tests see the language with the labels.
  document.documentElement.lang = lang;
  useEffect(() => {
    localStorage.setItem('gh.lang', lang);
  }, [lang]);
  useEffect(() => {
    setUnauthenticatedHandler(() => setMe(null));
    restore().then(setMe);
  }, []);
  const toggle = () => setLang(lang === 'zh-CN' ? 'en' : 'zh-CN');
  return (
    <I18nContext.Provider value={i18n}>
      {me === undefined ? (
        <p class="center">{i18n.t('loading')}</p>
      ) : me === null ? (
        <Login onIn={setMe} toggle={toggle} />
      ) : (
        <Shell
          me={me}
          toggle={toggle}
          onOut={async () => {
            await logout();
            setMe(null);
          }}
        />
      )}
    </I18nContext.Provider>
  );
}

function Login({ onIn, toggle }: { onIn: (me: Me) => void; toggle: () => void }) {
  const { t } = useI18n();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError('');
    try {
      onIn(await login(String(form.get('username')), String(form.get('password'))));
    } catch (err) {
      setError(
        err instanceof ApiError && err.code === 'GH_ERR_LOGIN_LOCKED' ? t('signInLocked') : t('signInFailed'),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} class="card">
        <h1>{t('appName')}</h1>
        <label>
          {t('username')}
          <input name="username" autocomplete="username" required />
        </label>
        <label>
          {t('password')}
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy} data-testid="sign-in">
          {t('signIn')}
        </button>
        <button type="button" class="link" onClick={toggle} data-testid="lang">
          {t('language')}
        </button>
      </form>
    </main>
  );
}

const PAGES = [
  ['alarms', 'navAlarms'],
  ['tickets', 'navTickets'],
  ['elevators', 'navElevators'],
  ['devices', 'navDevices'],
  ['grid', 'navGrid'],
  ['integrations', 'navIntegrations'],
] as const;

function Shell({ me, toggle, onOut }: { me: Me; toggle: () => void; onOut: () => void }) {
  const { t } = useI18n();
  const [page = 'alarms', ...rest] = useRoute();
  // On a phone the menu folds into one button, so the page starts at the top of the screen.
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => {
    // #/alerts/{id} (links in flow messages) opens the alarm board.
    if (!PAGES.some(([p]) => p === page) && page !== 'alerts') go('alarms');
    setMenuOpen(false);
  }, [page]);
  const current = PAGES.find(([p]) => p === page || (p === 'alarms' && page === 'alerts'));
  return (
    <>
      <header class={`top ${menuOpen ? 'open' : ''}`}>
        <strong class="brand">{t('appName')}</strong>
        <span class="current">{current ? t(current[1]) : ''}</span>
        <button
          type="button"
          class="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="menu"
          onClick={() => setMenuOpen(!menuOpen)}
          data-testid="menu"
        >
          <span aria-hidden="true">☰</span> {t('menu')}
        </button>
        <div class="menu" id="menu">
          <nav>
            {PAGES.filter(([p]) => p !== 'integrations' || can(me, 'integration:read')).map(([p, label]) => (
              <a
                href={`#/${p}`}
                class={p === current?.[0] ? 'active' : ''}
                data-nav={p}
                onClick={() => setMenuOpen(false)}
              >
                {t(label)}
              </a>
            ))}
          </nav>
          <span class="who" title={`${me.personId} · ${me.roles.join(', ')}`}>
            {me.name}
          </span>
          <button
            type="button"
            class="link"
            onClick={() => {
              setMenuOpen(false);
              toggle();
            }}
            data-testid="lang"
          >
            {t('language')}
          </button>
          <button type="button" class="link" onClick={onOut}>
            {t('signOut')}
          </button>
        </div>
      </header>
      <main class="page" data-page={page}>
        {(page === 'alarms' || page === 'alerts') && <AlarmBoard me={me} />}
        {page === 'tickets' && <TicketsPage me={me} id={rest[0]} />}
        {page === 'elevators' && <ElevatorsPage me={me} id={rest[0]} />}
        {page === 'devices' && <DevicesPage me={me} id={rest[0]} />}
        {page === 'grid' && <GridPage me={me} />}
        {page === 'integrations' && <IntegrationsPage me={me} />}
      </main>
    </>
  );
}
