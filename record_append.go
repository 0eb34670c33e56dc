package enricher

// Hand-written encoders of the values storage writes most often: the job snapshot (written
// with every event commit) and the record with its summary (written once per record). Each
// writes what encoding/json.Marshal writes for the same value and fails when it fails (a NaN
// or infinite float, an invalid raw JSON value): the contract of json_append.go. Field order
// is the struct's; TestAppendersCoverEveryField fails when a field is added and not written.

// AppendJob appends the JSON of j to dst, byte-identical to json.Marshal(j) and failing
// exactly when it fails; on error dst is returned unchanged. A nil j is null.
func AppendJob(dst []byte, j *Job) ([]byte, error) {
	if j == nil {
		return append(dst, "null"...), nil
	}
	return j.appendJSON(dst)
}

// AppendRecord appends the JSON of r to dst (RecordDetail: the summary's fields, then the large
// ones), byte-identical to json.Marshal(r) and failing exactly when it fails; on error dst is
// returned unchanged. A nil r is null.
func AppendRecord(dst []byte, r *Record) ([]byte, error) {
	if r == nil {
		return append(dst, "null"...), nil
	}
	return r.appendJSON(dst)
}

// AppendRecordSummary appends the JSON of s to dst, byte-identical to json.Marshal(s) and
// failing exactly when it fails; on error dst is returned unchanged. A nil s is null.
func AppendRecordSummary(dst []byte, s *RecordSummary) ([]byte, error) {
	if s == nil {
		return append(dst, "null"...), nil
	}
	return s.appendJSON(dst)
}

func (j *Job) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"job_id":`...)
	dst = appendJSONString(dst, j.ID)
	dst = append(dst, `,"organization_id":`...)
	dst = appendJSONString(dst, j.OrganizationID)
	dst = append(dst, `,"job_type":`...)
	dst = appendJSONString(dst, string(j.Type))
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, string(j.Status))
	dst = append(dst, `,"created_at":`...)
	dst = appendTime(dst, j.CreatedAt)
	dst = append(dst, `,"started_at":`...)
	dst = appendTimePtr(dst, j.StartedAt)
	dst = append(dst, `,"finished_at":`...)
	dst = appendTimePtr(dst, j.FinishedAt)
	dst = append(dst, `,"created_by":`...)
	dst = appendCreatedBy(dst, &j.CreatedBy)
	dst = append(dst, `,"models":`...)
	dst = appendStringSlice(dst, j.Models)
	dst = append(dst, `,"strategy":`...)
	if j.Strategy == nil {
		dst = append(dst, "null"...)
	} else {
		dst = appendJSONString(dst, string(*j.Strategy))
	}
	dst = append(dst, `,"schema_id":`...)
	dst = appendNullableString(dst, j.SchemaID)
	if len(j.Spec) > 0 {
		dst = append(dst, `,"spec":`...)
		if dst, err = appendRawJSON(dst, j.Spec); err != nil {
			return dst[:mark], err
		}
	}
	dst = append(dst, `,"last_seq":`...)
	dst = appendJSONInt(dst, j.LastSeq)
	dst = append(dst, `,"total_models":`...)
	dst = appendJSONInt(dst, int64(j.TotalModels))
	dst = append(dst, `,"completed_models":`...)
	dst = appendJSONInt(dst, int64(j.CompletedModels))
	dst = append(dst, `,"total_entities":`...)
	dst = appendNullableInt(dst, j.TotalEntities)
	dst = append(dst, `,"completed_entities":`...)
	dst = appendNullableInt(dst, j.CompletedEntities)
	dst = append(dst, `,"failed_entities":`...)
	dst = appendNullableInt(dst, j.FailedEntities)
	dst = append(dst, `,"skipped_entities":`...)
	dst = appendNullableInt(dst, j.SkippedEntities)
	dst = append(dst, `,"record_ids":`...)
	dst = appendStringSlice(dst, j.RecordIDs)
	dst = append(dst, `,"record_count":`...)
	dst = appendJSONInt(dst, int64(j.RecordCount))
	dst = append(dst, `,"pause":`...)
	if dst, err = appendPause(dst, j.Pause); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"error_message":`...)
	dst = appendNullableString(dst, j.ErrorMessage)
	dst = append(dst, `,"result":`...)
	if dst, err = appendRawJSON(dst, j.Result); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"event_bytes":`...)
	dst = appendJSONInt(dst, j.EventBytes)
	if j.Classification != nil {
		dst = append(dst, `,"classification":`...)
		if dst, err = appendClassification(dst, j.Classification); err != nil {
			return dst[:mark], err
		}
	}
	if j.CostUSD != 0 {
		dst = append(dst, `,"cost_usd":`...)
		if dst, err = appendJSONFloat(dst, j.CostUSD); err != nil {
			return dst[:mark], err
		}
	}
	if j.InputTokens != 0 {
		dst = append(dst, `,"input_tokens":`...)
		dst = appendJSONInt(dst, int64(j.InputTokens))
	}
	if j.OutputTokens != 0 {
		dst = append(dst, `,"output_tokens":`...)
		dst = appendJSONInt(dst, int64(j.OutputTokens))
	}
	dst = append(dst, `,"paused_ms":`...)
	dst = appendJSONInt(dst, j.PausedMS)
	if w := j.Webhook; w != nil {
		dst = append(dst, `,"webhook":{"url":`...)
		dst = appendJSONString(dst, w.URL)
		dst = append(dst, `,"events":`...)
		dst = appendStringSlice(dst, w.Events)
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

func appendPause(dst []byte, p *Pause) (_ []byte, err error) {
	if p == nil {
		return append(dst, "null"...), nil
	}
	mark := len(dst)
	dst = append(dst, `{"classification":`...)
	if dst, err = appendClassification(dst, p.Classification); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"expires_at":`...)
	dst = appendTime(dst, p.ExpiresAt)
	return append(dst, '}'), nil
}

// appendTime appends t as Time.MarshalJSON writes it: a TimeLayout string, null when zero.
func appendTime(dst []byte, t Time) []byte {
	if t.IsZero() {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, TimeLayout)
	return append(dst, '"')
}

// appendTimePtr appends *t as appendTime does, or null when t is nil.
func appendTimePtr(dst []byte, t *Time) []byte {
	if t == nil {
		return append(dst, "null"...)
	}
	return appendTime(dst, *t)
}

func appendCreatedBy(dst []byte, c *CreatedBy) []byte {
	dst = append(dst, `{"user_id":`...)
	dst = appendNullableString(dst, c.UserID)
	dst = append(dst, `,"api_key_id":`...)
	dst = appendNullableString(dst, c.APIKeyID)
	return append(dst, '}')
}

func (s *RecordSummary) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, '{')
	if dst, err = s.appendFields(dst); err != nil {
		return dst[:mark], err
	}
	return append(dst, '}'), nil
}

// appendFields appends the fields of s without the braces around them.
func (s *RecordSummary) appendFields(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `"id":`...)
	dst = appendJSONString(dst, s.ID)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, string(s.Type))
	dst = append(dst, `,"job_id":`...)
	dst = appendJSONString(dst, s.JobID)
	dst = append(dst, `,"entity_id":`...)
	dst = appendNullableString(dst, s.EntityID)
	dst = append(dst, `,"entity_name":`...)
	dst = appendNullableString(dst, s.EntityName)
	dst = append(dst, `,"entity_index":`...)
	dst = appendNullableInt(dst, s.EntityIndex)
	dst = append(dst, `,"model":`...)
	dst = appendNullableString(dst, s.Model)
	dst = append(dst, `,"provider":`...)
	dst = appendNullableString(dst, s.Provider)
	dst = append(dst, `,"strategy":`...)
	dst = appendNullableString(dst, s.Strategy)
	dst = append(dst, `,"languages":`...)
	dst = appendStringSlice(dst, s.Languages)
	dst = append(dst, `,"schema_id":`...)
	dst = appendNullableString(dst, s.SchemaID)
	dst = append(dst, `,"schema_content_hash":`...)
	dst = appendNullableString(dst, s.SchemaContentHash)
	dst = append(dst, `,"schema_entity_name":`...)
	dst = appendNullableString(dst, s.SchemaEntityName)
	dst = append(dst, `,"success":`...)
	dst = appendJSONBool(dst, s.Success)
	dst = append(dst, `,"partial_success":`...)
	dst = appendJSONBool(dst, s.PartialSuccess)
	dst = append(dst, `,"cancelled":`...)
	dst = appendJSONBool(dst, s.Cancelled)
	if dst, err = appendUsage(dst, s.CostUSD, s.InputTokens, s.OutputTokens, s.ProcessingTimeMS); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"prompt_count":`...)
	dst = appendJSONInt(dst, int64(s.PromptCount))
	dst = append(dst, `,"source_models":`...)
	dst = appendStringSlice(dst, s.SourceModels)
	dst = append(dst, `,"source_record_ids":`...)
	dst = appendStringSlice(dst, s.SourceRecordIDs)
	dst = append(dst, `,"fusion_method":`...)
	dst = appendNullableString(dst, s.FusionMethod)
	dst = append(dst, `,"min_confidence":`...)
	if s.MinConfidence == nil {
		dst = append(dst, "null"...)
	} else if dst, err = appendJSONFloat(dst, *s.MinConfidence); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"error_code":`...)
	dst = appendNullableString(dst, s.ErrorCode)
	dst = append(dst, `,"error_message":`...)
	dst = appendNullableString(dst, s.ErrorMessage)
	dst = append(dst, `,"is_deleted":`...)
	dst = appendJSONBool(dst, s.IsDeleted)
	dst = append(dst, `,"created_at":`...)
	return appendTime(dst, s.CreatedAt), nil
}

func (r *Record) appendJSON(dst []byte) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, '{')
	if dst, err = r.RecordSummary.appendFields(dst); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"structured_output":`...)
	if dst, err = appendRawJSON(dst, r.StructuredOutput); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"entity_input":`...)
	if dst, err = appendRawJSON(dst, r.EntityInput); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"classification":`...)
	if dst, err = appendClassification(dst, r.Classification); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"conflict_report":`...)
	if dst, err = appendRawJSON(dst, r.ConflictReport); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"field_provenance":`...)
	if dst, err = appendSortedMap(dst, r.FieldProvenance, appendFieldProvenance); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"validation_errors":`...)
	dst = appendStringSlice(dst, r.ValidationErrors)
	dst = append(dst, `,"prompts":`...)
	if r.Prompts == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range r.Prompts {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendPromptCall(dst, &r.Prompts[i]); err != nil {
				return dst[:mark], err
			}
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"created_by":`...)
	dst = appendCreatedBy(dst, &r.CreatedBy)
	dst = append(dst, `,"deleted_at":`...)
	dst = appendTimePtr(dst, r.DeletedAt)
	return append(dst, '}'), nil
}

func appendPromptCall(dst []byte, p *PromptCall) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, p.ID)
	dst = append(dst, `,"call_kind":`...)
	dst = appendJSONString(dst, p.CallKind)
	dst = append(dst, `,"model":`...)
	dst = appendJSONString(dst, p.Model)
	dst = append(dst, `,"expertise_key":`...)
	dst = appendNullableString(dst, p.ExpertiseKey)
	dst = append(dst, `,"expertise_name":`...)
	dst = appendNullableString(dst, p.ExpertiseName)
	dst = append(dst, `,"sequence_order":`...)
	dst = appendJSONInt(dst, int64(p.SequenceOrder))
	dst = append(dst, `,"system_prompt":`...)
	dst = appendJSONString(dst, p.SystemPrompt)
	dst = append(dst, `,"user_prompt":`...)
	dst = appendJSONString(dst, p.UserPrompt)
	dst = append(dst, `,"raw_response":`...)
	dst = appendNullableString(dst, p.RawResponse)
	dst = append(dst, `,"structured_output":`...)
	if dst, err = appendRawJSON(dst, p.StructuredOutput); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"success":`...)
	dst = appendJSONBool(dst, p.Success)
	dst = append(dst, `,"error_code":`...)
	dst = appendNullableString(dst, p.ErrorCode)
	dst = append(dst, `,"error_message":`...)
	dst = appendNullableString(dst, p.ErrorMessage)
	dst = append(dst, `,"attempts":`...)
	dst = appendJSONInt(dst, int64(p.Attempts))
	dst = append(dst, `,"attempt_log":`...)
	if p.AttemptLog == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range p.AttemptLog {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendAttempt(dst, &p.AttemptLog[i]); err != nil {
				return dst[:mark], err
			}
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"validation_errors":`...)
	dst = appendStringSlice(dst, p.ValidationErrors)
	if dst, err = appendTokensCostTime(dst, p.InputTokens, p.OutputTokens, p.CostUSD, p.ProcessingTimeMS); err != nil {
		return dst[:mark], err
	}
	dst = append(dst, `,"created_at":`...)
	dst = appendTime(dst, p.CreatedAt)
	return append(dst, '}'), nil
}

func appendAttempt(dst []byte, a *Attempt) (_ []byte, err error) {
	mark := len(dst)
	dst = append(dst, `{"attempt":`...)
	dst = appendJSONInt(dst, int64(a.Attempt))
	dst = append(dst, `,"raw_response":`...)
	dst = appendNullableString(dst, a.RawResponse)
	dst = append(dst, `,"validation_errors":`...)
	dst = appendStringSlice(dst, a.ValidationErrors)
	dst = append(dst, `,"error_kind":`...)
	dst = appendNullableString(dst, a.ErrorKind)
	if dst, err = appendTokensCostTime(dst, a.InputTokens, a.OutputTokens, a.CostUSD, a.ProcessingTimeMS); err != nil {
		return dst[:mark], err
	}
	return append(dst, '}'), nil
}

// appendTokensCostTime appends the input_tokens, output_tokens, cost_usd and
// processing_time_ms fields in that order (the order of a prompt call and an attempt;
// appendUsage is the payloads' order). A cost that is NaN or infinite is an error.
func appendTokensCostTime(dst []byte, in, out int, cost float64, ms int64) ([]byte, error) {
	dst = append(dst, `,"input_tokens":`...)
	dst = appendJSONInt(dst, int64(in))
	dst = append(dst, `,"output_tokens":`...)
	dst = appendJSONInt(dst, int64(out))
	dst = append(dst, `,"cost_usd":`...)
	dst, err := appendJSONFloat(dst, cost)
	if err != nil {
		return dst, err
	}
	dst = append(dst, `,"processing_time_ms":`...)
	return appendJSONInt(dst, ms), nil
}
