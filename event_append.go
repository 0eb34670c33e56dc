package enricher

// Hand-written encoders of the event payloads that make up nearly every event of single and
// batch jobs, and of the EnrichmentOutcome a completed event carries. Each writes what
// encoding/json.Marshal writes for the same value (the contract of json_append.go); field
// order is the struct's.

// AppendOutcome appends the JSON of o to dst, byte-identical to json.Marshal(o) and failing
// when json.Marshal would (a NaN or infinite cost, an invalid raw result); on error dst is
// returned unchanged. A nil o is null.
func AppendOutcome(dst []byte, o *EnrichmentOutcome) ([]byte, error) {
	if o == nil {
		return append(dst, "null"...), nil
	}
	return o.appendJSON(dst)
}

func (o *EnrichmentOutcome) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"job_id":`...)
	dst = appendJSONString(dst, o.JobID)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, string(o.Status))
	dst = append(dst, `,"success":`...)
	dst = appendJSONBool(dst, o.Success)
	dst = append(dst, `,"is_fused":`...)
	dst = appendJSONBool(dst, o.IsFused)
	dst = append(dst, `,"result":`...)
	if dst, err = appendRawJSON(dst, o.Result); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"field_provenance":`...)
	if dst, err = appendSortedMap(dst, o.FieldProvenance, appendFieldProvenance); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"record_id":`...)
	dst = appendNullableString(dst, o.RecordID)
	dst = append(dst, `,"model":`...)
	dst = appendNullableString(dst, o.Model)
	dst = append(dst, `,"source_models":`...)
	dst = appendStringSlice(dst, o.SourceModels)
	dst = append(dst, `,"classification":`...)
	if dst, err = appendClassification(dst, o.Classification); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"fusion":`...)
	dst = appendFusionSummary(dst, o.Fusion)
	dst = append(dst, `,"failed_models":`...)
	if o.FailedModels == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range o.FailedModels {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendFailedModel(dst, &o.FailedModels[i])
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"per_model_results":`...)
	if dst, err = appendModelResults(dst, o.PerModelResults); err != nil {
		return dst[:mark], err
	}
	if dst, err = appendUsage(dst, o.CostUSD, o.InputTokens, o.OutputTokens, o.ProcessingTimeMS); err != nil {
		return dst[:mark], err
	}
	return append(dst, '}'), nil
}

func appendFieldProvenance(dst []byte, p FieldProvenance) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"sources":`...)
	dst = appendStringSlice(dst, p.Sources)
	dst = append(dst, `,"agreement":`...)
	if dst, err = appendJSONFloat(dst, p.Agreement); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"method":`...)
	dst = appendJSONString(dst, p.Method)
	dst = append(dst, `,"confidence":`...)
	if dst, err = appendJSONFloat(dst, p.Confidence); err != nil {
		return dst[:mark], err
	}
	return append(dst, '}'), nil
}

func appendClassification(dst []byte, c *Classification) (_ []byte, err error) {
	if c == nil {
		return append(dst, "null"...), nil
	}
	mark := len(dst)
	dst = append(dst, `{"status":`...)
	dst = appendJSONString(dst, c.Status)
	dst = append(dst, `,"expected_type":`...)
	dst = appendJSONString(dst, c.ExpectedType)
	dst = append(dst, `,"entity_description":`...)
	dst = appendJSONString(dst, c.EntityDescription)
	dst = append(dst, `,"confidence":`...)
	if dst, err = appendJSONFloat(dst, c.Confidence); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"reasoning":`...)
	dst = appendJSONString(dst, c.Reasoning)
	dst = append(dst, `,"alternative_interpretations":`...)
	dst = appendStringSlice(dst, c.AlternativeInterpretations)
	dst = append(dst, `,"model":`...)
	dst = appendJSONString(dst, c.Model)
	dst = append(dst, `,"input_tokens":`...)
	dst = appendJSONInt(dst, int64(c.InputTokens))
	dst = append(dst, `,"output_tokens":`...)
	dst = appendJSONInt(dst, int64(c.OutputTokens))
	dst = append(dst, `,"cost_usd":`...)
	if dst, err = appendJSONFloat(dst, c.CostUSD); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"processing_time_ms":`...)
	dst = appendJSONInt(dst, c.ProcessingTimeMS)
	return append(dst, '}'), nil
}

func appendFusionSummary(dst []byte, f *FusionSummary) []byte {
	if f == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"method":`...)
	dst = appendJSONString(dst, f.Method)
	dst = append(dst, `,"arbitration_model":`...)
	dst = appendNullableString(dst, f.ArbitrationModel)
	dst = append(dst, `,"total_fields":`...)
	dst = appendJSONInt(dst, int64(f.TotalFields))
	dst = append(dst, `,"agreed_fields":`...)
	dst = appendJSONInt(dst, int64(f.AgreedFields))
	dst = append(dst, `,"conflicted_fields":`...)
	dst = appendJSONInt(dst, int64(f.ConflictedFields))
	dst = append(dst, `,"record_id":`...)
	dst = appendNullableString(dst, f.RecordID)
	return append(dst, '}')
}

func appendFailedModel(dst []byte, f *FailedModel) []byte {
	dst = append(dst, `{"model":`...)
	dst = appendJSONString(dst, f.Model)
	dst = append(dst, `,"error_code":`...)
	dst = appendNullableString(dst, f.ErrorCode)
	dst = append(dst, `,"error_message":`...)
	dst = appendNullableString(dst, f.ErrorMessage)
	return append(dst, '}')
}

// appendModelResults appends rs as a JSON array (null when nil).
func appendModelResults(dst []byte, rs []ModelResult) (_ []byte, err error) {
	if rs == nil {
		return append(dst, "null"...), nil
	}
	mark := len(dst)
	dst = append(dst, '[')
	for i := range rs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		if dst, err = rs[i].appendFields(dst); err != nil {
			return dst[:mark], err
		}
		dst = append(dst, '}')
	}
	return append(dst, ']'), nil
}

// appendFields appends the fields of r without the braces around them.
func (r *ModelResult) appendFields(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `"model":`...)
	dst = appendJSONString(dst, r.Model)
	dst = append(dst, `,"success":`...)
	dst = appendJSONBool(dst, r.Success)
	dst = append(dst, `,"partial_success":`...)
	dst = appendJSONBool(dst, r.PartialSuccess)
	dst = append(dst, `,"cancelled":`...)
	dst = appendJSONBool(dst, r.Cancelled)
	dst = append(dst, `,"result":`...)
	if dst, err = appendRawJSON(dst, r.Result); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"record_id":`...)
	dst = appendNullableString(dst, r.RecordID)
	dst = append(dst, `,"error_message":`...)
	dst = appendNullableString(dst, r.ErrorMessage)
	dst = append(dst, `,"error_code":`...)
	dst = appendNullableString(dst, r.ErrorCode)
	if dst, err = appendUsage(dst, r.CostUSD, r.InputTokens, r.OutputTokens, r.ProcessingTimeMS); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"attempts":`...)
	dst = appendJSONInt(dst, int64(r.Attempts))
	dst = append(dst, `,"expertise_breakdown":`...)
	if r.ExpertiseBreakdown == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '[')
	for i := range r.ExpertiseBreakdown {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendExpertiseOutcome(dst, &r.ExpertiseBreakdown[i]); err != nil {
			return dst[:mark], err
		}
	}
	return append(dst, ']'), nil
}

func appendExpertiseOutcome(dst []byte, x *ExpertiseOutcome) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"key":`...)
	dst = appendJSONString(dst, x.Key)
	dst = append(dst, `,"name":`...)
	dst = appendJSONString(dst, x.Name)
	dst = append(dst, `,"success":`...)
	dst = appendJSONBool(dst, x.Success)
	dst = append(dst, `,"attempts":`...)
	dst = appendJSONInt(dst, int64(x.Attempts))
	if dst, err = appendUsage(dst, x.CostUSD, x.InputTokens, x.OutputTokens, x.ProcessingTimeMS); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"error_message":`...)
	dst = appendNullableString(dst, x.ErrorMessage)
	return append(dst, '}'), nil
}

func (e ModelStartedEvent) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"model":`...)
	dst = appendJSONString(dst, e.Model)
	dst = append(dst, `,"strategy":`...)
	dst = appendJSONString(dst, string(e.Strategy))
	dst = append(dst, `,"expertise_keys":`...)
	dst = appendStringSlice(dst, e.ExpertiseKeys)
	dst = append(dst, `,"entity_index":`...)
	dst = appendNullableInt(dst, e.EntityIndex)
	return append(dst, '}'), nil
}

func (e ModelCompletedEvent) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, '{')
	if dst, err = e.ModelResult.appendFields(dst); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"entity_index":`...)
	dst = appendNullableInt(dst, e.EntityIndex)
	return appendTruncatedFlag(dst, e.IsTruncated), nil
}

// appendTruncatedFlag closes an object whose last field is `truncated,omitempty`.
func appendTruncatedFlag(dst []byte, truncated bool) []byte {
	if truncated {
		dst = append(dst, `,"truncated":true`...)
	}
	return append(dst, '}')
}

func (e CompletedEvent) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"result":`...)
	if dst, err = appendRawJSON(dst, e.Result); err != nil {
		return dst[:mark], err
	}
	return appendTruncatedFlag(dst, e.IsTruncated), nil
}

func (e EntityStartedEvent) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"entity_index":`...)
	dst = appendJSONInt(dst, int64(e.EntityIndex))
	dst = append(dst, `,"entity_label":`...)
	dst = appendJSONString(dst, e.EntityLabel)
	return append(dst, '}'), nil
}

func (e EntityCompletedEvent) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"entity_index":`...)
	dst = appendJSONInt(dst, int64(e.EntityIndex))
	dst = append(dst, `,"entity_label":`...)
	dst = appendJSONString(dst, e.EntityLabel)
	dst = append(dst, `,"success":`...)
	dst = appendJSONBool(dst, e.Success)
	dst = append(dst, `,"skipped":`...)
	dst = appendJSONBool(dst, e.Skipped)
	dst = append(dst, `,"error_message":`...)
	dst = appendNullableString(dst, e.ErrorMessage)
	dst = append(dst, `,"results":`...)
	if dst, err = appendModelResults(dst, e.Results); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"fusion":`...)
	dst = appendFusionSummary(dst, e.Fusion)
	dst = append(dst, `,"final_result":`...)
	if dst, err = appendRawJSON(dst, e.FinalResult); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"final_record_id":`...)
	dst = appendNullableString(dst, e.FinalRecordID)
	dst = append(dst, `,"cost_usd":`...)
	if dst, err = appendJSONFloat(dst, e.CostUSD); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"processing_time_ms":`...)
	dst = appendJSONInt(dst, e.ProcessingTimeMS)
	return appendTruncatedFlag(dst, e.IsTruncated), nil
}

func (e ExpertiseCompletedEvent) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"model":`...)
	dst = appendJSONString(dst, e.Model)
	dst = append(dst, `,"expertise_key":`...)
	dst = appendJSONString(dst, e.ExpertiseKey)
	dst = append(dst, `,"expertise_name":`...)
	dst = appendJSONString(dst, e.ExpertiseName)
	dst = append(dst, `,"success":`...)
	dst = appendJSONBool(dst, e.Success)
	dst = append(dst, `,"completed_expertises":`...)
	dst = appendJSONInt(dst, int64(e.CompletedExpertises))
	dst = append(dst, `,"total_expertises":`...)
	dst = appendJSONInt(dst, int64(e.TotalExpertises))
	dst = append(dst, `,"expertise_result":`...)
	if dst, err = appendRawJSON(dst, e.ExpertiseResult); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"partial_result":`...)
	if dst, err = appendRawJSON(dst, e.PartialResult); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"attempts":`...)
	dst = appendJSONInt(dst, int64(e.Attempts))
	if dst, err = appendUsage(dst, e.CostUSD, e.InputTokens, e.OutputTokens, e.ProcessingTimeMS); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"error_message":`...)
	dst = appendNullableString(dst, e.ErrorMessage)
	dst = append(dst, `,"entity_index":`...)
	dst = appendNullableInt(dst, e.EntityIndex)
	return appendTruncatedFlag(dst, e.IsTruncated), nil
}

func (e AttemptFailedEvent) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"model":`...)
	dst = appendJSONString(dst, e.Model)
	dst = append(dst, `,"call_kind":`...)
	dst = appendJSONString(dst, e.CallKind)
	dst = append(dst, `,"expertise_key":`...)
	dst = appendNullableString(dst, e.ExpertiseKey)
	dst = append(dst, `,"attempt":`...)
	dst = appendJSONInt(dst, int64(e.Attempt))
	dst = append(dst, `,"error_kind":`...)
	dst = appendJSONString(dst, e.ErrorKind)
	dst = append(dst, `,"errors":`...)
	dst = appendStringSlice(dst, e.Errors)
	dst = append(dst, `,"will_retry":`...)
	dst = appendJSONBool(dst, e.WillRetry)
	dst = append(dst, `,"entity_index":`...)
	dst = appendNullableInt(dst, e.EntityIndex)
	return append(dst, '}'), nil
}

// AppendConflictReport appends the JSON of r to dst, byte-identical to json.Marshal(r) and
// failing exactly when it fails; on error dst is returned unchanged.
func AppendConflictReport(dst []byte, r *ConflictReport) ([]byte, error) {
	return r.appendJSON(dst)
}

func (r *ConflictReport) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"total_fields":`...)
	dst = appendJSONInt(dst, int64(r.TotalFields))
	dst = append(dst, `,"agreed_fields":`...)
	dst = appendJSONInt(dst, int64(r.AgreedFields))
	dst = append(dst, `,"conflicted_fields":`...)
	dst = appendJSONInt(dst, int64(r.ConflictedFields))
	dst = append(dst, `,"conflicts":`...)
	if r.Conflicts == nil {
		return append(dst, "null}"...), nil
	}
	dst = append(dst, '[')
	for i := range r.Conflicts {
		if i > 0 {
			dst = append(dst, ',')
		}
		c := &r.Conflicts[i]
		dst = append(dst, `{"path":`...)
		dst = appendJSONString(dst, c.Path)
		dst = append(dst, `,"field_type":`...)
		dst = appendJSONString(dst, c.FieldType)
		dst = append(dst, `,"needs_arbitration":`...)
		dst = appendJSONBool(dst, c.NeedsArbitration)
		dst = append(dst, `,"values_by_model":`...)
		if dst, err = appendJSONValue(dst, c.ValuesByModel, jsonHTML, 0); err != nil {
			return dst[:mark], err
		}
		dst = append(dst, `,"resolved_value":`...)
		if dst, err = appendJSONValue(dst, c.ResolvedValue, jsonHTML, 0); err != nil {
			return dst[:mark], err
		}
		dst = append(dst, `,"resolution_method":`...)
		dst = appendJSONString(dst, c.ResolutionMethod)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...), nil
}

func (e FusionStartedEvent) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"source_models":`...)
	dst = appendStringSlice(dst, e.SourceModels)
	dst = append(dst, `,"source_record_ids":`...)
	dst = appendStringSlice(dst, e.SourceRecordIDs)
	dst = append(dst, `,"arbitration_model":`...)
	dst = appendNullableString(dst, e.ArbitrationModel)
	dst = append(dst, `,"entity_index":`...)
	dst = appendNullableInt(dst, e.EntityIndex)
	return append(dst, '}'), nil
}

func (e ConflictsDetectedEvent) appendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"total_fields":`...)
	dst = appendJSONInt(dst, int64(e.TotalFields))
	dst = append(dst, `,"agreed_fields":`...)
	dst = appendJSONInt(dst, int64(e.AgreedFields))
	dst = append(dst, `,"conflicted_fields":`...)
	dst = appendJSONInt(dst, int64(e.ConflictedFields))
	dst = append(dst, `,"conflict_paths":`...)
	dst = appendStringSlice(dst, e.ConflictPaths)
	dst = append(dst, `,"entity_index":`...)
	dst = appendNullableInt(dst, e.EntityIndex)
	return append(dst, '}'), nil
}

func (e FusionCompletedEvent) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"success":`...)
	dst = appendJSONBool(dst, e.Success)
	dst = append(dst, `,"method":`...)
	dst = appendNullableString(dst, e.Method)
	dst = append(dst, `,"merged_result":`...)
	if dst, err = appendRawJSON(dst, e.MergedResult); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"conflict_report":`...)
	if dst, err = appendRawJSON(dst, e.ConflictReport); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"record_id":`...)
	dst = appendNullableString(dst, e.RecordID)
	if dst, err = appendUsage(dst, e.CostUSD, e.InputTokens, e.OutputTokens, e.ProcessingTimeMS); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"validation_warnings":`...)
	dst = appendStringSlice(dst, e.ValidationWarnings)
	dst = append(dst, `,"error_message":`...)
	dst = appendNullableString(dst, e.ErrorMessage)
	dst = append(dst, `,"entity_index":`...)
	dst = appendNullableInt(dst, e.EntityIndex)
	return appendTruncatedFlag(dst, e.IsTruncated), nil
}

// appendUsage appends the cost_usd, input_tokens, output_tokens and processing_time_ms fields,
// in that order, as every payload that carries the four writes them. A cost that is NaN or
// infinite is an error.
func appendUsage(dst []byte, cost float64, in, out int, ms int64) ([]byte, error) {
	dst = append(dst, `,"cost_usd":`...)
	dst, err := appendJSONFloat(dst, cost)
	if err != nil {
		return dst, err
	}
	dst = append(dst, `,"input_tokens":`...)
	dst = appendJSONInt(dst, int64(in))
	dst = append(dst, `,"output_tokens":`...)
	dst = appendJSONInt(dst, int64(out))
	dst = append(dst, `,"processing_time_ms":`...)
	return appendJSONInt(dst, ms), nil
}
