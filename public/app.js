/**
 * The page's entry point: reads the loan form's description (ui/form.json, from the service's field
 * table), the loaded models (GET /models) and the scenarios (GET /scenarios), again whenever the API key
 * changes, then sets up the loan, pool, lifetime-loss and backtest sections.
 */
import { call, describeFailure, setUpApiKey } from './api.js';
import { setUpBacktest } from './backtest.js';
import { LoanForm } from './form.js';
import { setUpLifetime } from './lifetime.js';
import { setUpLoan } from './loan.js';
import { setUpPool } from './pool.js';

async function start() {
  setUpApiKey();
  const holder = /** @type {HTMLElement} */ (document.getElementById('loan-fields'));
  const response = await fetch('ui/form.json').catch(() => null);
  if (!response?.ok) {
    holder.textContent = 'The loan fields could not be loaded from the service. Reload the page to try again.';
    return;
  }
  const form = await response.json();
  let defaultModel;
  const loanForm = new LoanForm(holder, form.fields);
  const loan = setUpLoan(loanForm, () => defaultModel, form.model_card ?? null);
  const pool = setUpPool(form.pool);
  const lifetime = setUpLifetime(pool, form.lifetime ?? { sample_scenario: null });
  setUpBacktest(form.backtest ?? { sample_tape: null }, pool);
  const loadScenarios = async () => lifetime.setScenarios(await loan.loadScenarios());

  const loadModels = async () => {
    const listed = await call('models');
    if (!listed.ok) {
      // 401/403 are announced at the top of the page; anything else here.
      if (listed.status !== 401 && listed.status !== 403) {
        const status = /** @type {HTMLElement} */ (document.getElementById('pool-form-status'));
        status.textContent = `The model list is not available (${describeFailure(listed)}); tapes go to the service's default model.`;
      }
      return;
    }
    defaultModel = listed.body.default_model ?? undefined; // null: no loan model is loaded
    loan.setModels(listed.body.models);
    // Models that score loan records; a model fed engineered features (inputs: "features") is not one.
    pool.setModels(
      listed.body.models.filter((m) => m.inputs !== 'features'),
      defaultModel,
    );
  };
  await Promise.all([loadModels(), loadScenarios()]);
  document.getElementById('api-key')?.addEventListener('change', () => {
    void loadModels();
    void loadScenarios();
  });
  document.body.dataset.ready = 'true';
}

void start();
