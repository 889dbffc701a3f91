/*-------------------------------------------------------------------------
 *
 * speech.h
 *	  Offline speech recognition (flowdb.transcribe_offline): settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLOWDB_SPEECH_H
#define FLOWDB_SPEECH_H

/* flowdb.speech_max_seconds and flowdb.speech_max_bytes (docs/speech.md) */
extern void speech_define_settings(void);

#endif							/* FLOWDB_SPEECH_H */
