import { GridhubError } from '../../errors.ts';
import { genericModels } from './generic.ts';
import type { AnyDeviceModel } from './model.ts';
import { acmeSmokeModel } from './vendor-acme-smoke.ts';
import { riverlinkLoraLeakModel } from './vendor-lora-water-leak.ts';
import { anxinNbSmokeModel } from './vendor-nb-smoke-binary.ts';

export type { AnyDeviceModel, DeviceModel } from './model.ts';
export { offlineAfterSeconds } from './model.ts';

/** The catalogue of supported models. Adding a model is adding a record to this list. */
export const DEVICE_MODELS: readonly AnyDeviceModel[] = [
  ...genericModels,
  acmeSmokeModel,
  anxinNbSmokeModel,
  riverlinkLoraLeakModel,
];

export class ModelCatalogue {
  private readonly byId: Map<string, AnyDeviceModel>;

  constructor(readonly models: readonly AnyDeviceModel[] = DEVICE_MODELS) {
    this.byId = new Map(models.map((m) => [m.id, m]));
  }

  find(id: string): AnyDeviceModel | undefined {
    return this.byId.get(id);
  }

  get(id: string): AnyDeviceModel {
    const model = this.byId.get(id);
    if (!model) throw new GridhubError('GH_ERR_MODEL_UNKNOWN', `no device model '${id}'`);
    return model;
  }
}
